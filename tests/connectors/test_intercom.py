"""Intercom against a fake Intercom on 127.0.0.1 (fake_intercom.py): X-Hub-Signature, the draft
tag and admin note, an agent's tag as a correction, pings ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_intercom import FakeIntercom, notification, signed
from fake_server import wait_until
from helpdesk_gateway import ENV, connection

SECRET = ENV["HD_WEBHOOK_SECRET"]
HOOK = "/webhooks/intercom/chat"


@pytest.fixture
def intercom() -> Iterator[FakeIntercom]:
    with FakeIntercom() as fake:
        fake.add_conversation(
            "215", "Late package", "Where is my package? The tracking has not updated in a week."
        )
        fake.add_conversation(
            "216",
            "Charged twice",
            "I was charged twice this month for my subscription, please refund the duplicate "
            "charge on my credit card invoice as soon as possible.",
        )
        yield fake


def test_conversation_tagged_and_noted_then_agent_tag_is_a_correction(
    intercom: FakeIntercom, make_gateway
) -> None:
    with make_gateway([connection("chat", "intercom", intercom.url, admin_id="991")]) as gw:
        ping = notification("215", topic="ping")
        assert gw.post(HOOK, ping, signed(ping, SECRET)).json()["status"] == "ignored"
        forged = notification("215")
        assert gw.post(HOOK, forged, signed(forged, "wrong")).status_code == 401
        assert gw.jobs() == []
        body = notification("215")
        assert gw.post(HOOK, body, signed(body, SECRET)).status_code == 202
        wait_until(lambda: len(intercom.writes()) == 3 and gw.settled())
        create, attach, reply = intercom.writes()
        assert create.path == "/tags" and create.body == {"name": "rg_suggested_shipping"}
        assert attach.path == "/conversations/215/tags" and attach.body["admin_id"] == "991"
        assert reply.body["message_type"] == "note" and reply.body["type"] == "admin"
        assert reply.body["body"].startswith("Suggested: shipping")
        assert attach.headers["authorization"] == f"Bearer {ENV['HD_API_TOKEN']}"
        gw.flush()
        intercom.agent_tags("215", "rg_returns")
        tagged = notification("215", topic="conversation_part.tag.created")
        assert gw.post(HOOK, tagged, signed(tagged, SECRET)).status_code == 202
        wait_until(lambda: gw.settled() and gw.store.export(rubric="support"))
        [label] = gw.store.export(rubric="support")
        assert (label.label, label.source, label.predicted) == ("returns", "helpdesk", "shipping")


def test_auto_mode_sets_category_and_priority_attributes_and_assigns_the_team(
    intercom: FakeIntercom, make_gateway
) -> None:
    conn = connection(
        "chat",
        "intercom",
        intercom.url,
        admin_id="991",
        mode="auto",
        category_field="issue_type",
        groups={"billing-team": "5501"},
        priorities={"critical": "Urgent", "high": "High"},
    )
    with make_gateway([conn]) as gw:
        body = notification("216")
        assert gw.post(HOOK, body, signed(body, SECRET)).status_code == 202
        wait_until(lambda: len(intercom.writes()) == 2 and gw.settled())
        update, assign = intercom.writes()
        assert (update.method, update.path) == ("PUT", "/conversations/216")
        # "as soon as possible": the urgency rule's high, in the conversation's attributes
        assert update.body == {"custom_attributes": {"issue_type": "billing", "priority": "High"}}
        assert assign.path == "/conversations/216/parts"
        assert (assign.body["message_type"], assign.body["assignee_id"]) == ("assignment", "5501")
        # the attribute we set is read back as the ticket's category: our own change, no label
        again = notification("216", topic="conversation.admin.assigned")
        assert gw.post(HOOK, again, signed(again, SECRET)).status_code == 202
        wait_until(gw.settled)
        gw.flush()
        assert gw.store.export(rubric="support") == []
        # an agent changing the attribute is a correction
        intercom.tickets["216"]["custom_attributes"]["issue_type"] = "account"
        changed = notification("216", topic="conversation.admin.noted")
        assert gw.post(HOOK, changed, signed(changed, SECRET)).status_code == 202
        wait_until(lambda: gw.settled() and gw.store.export(rubric="support"))
        [label] = gw.store.export(rubric="support")
        assert (label.label, label.source, label.predicted) == ("account", "helpdesk", "billing")

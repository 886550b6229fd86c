"""Help Scout against a fake Help Scout on 127.0.0.1 (fake_helpscout.py): X-HelpScout-Signature,
tags (the whole list) and a note, auto mode's custom field, an agent's tag as a correction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_helpscout import FakeHelpScout, signed
from fake_server import wait_until
from helpdesk_gateway import ENV, connection

SECRET = ENV["HD_WEBHOOK_SECRET"]
HOOK = "/webhooks/helpscout/mailbox"


@pytest.fixture
def helpscout() -> Iterator[FakeHelpScout]:
    with FakeHelpScout() as fake:
        fake.add_conversation(
            "5", "Late package", "Where is my package? The tracking has not updated in a week."
        )
        fake.add_conversation(
            "6",
            "Charged twice",
            "I was charged twice this month for my subscription, please refund the duplicate "
            "charge on my credit card invoice as soon as possible.",
            # a field the team set before us: writing ours must not remove it
            fields=[{"id": 12, "name": "Region", "value": "31", "text": "EU"}],
        )
        yield fake


def test_draft_then_agent_tag_is_a_correction(helpscout: FakeHelpScout, make_gateway) -> None:
    with make_gateway([connection("mailbox", "helpscout", helpscout.url)]) as gw:
        body = helpscout.webhook_body("5")
        assert gw.post(HOOK, body, signed(body, "wrong")).status_code == 401
        assert gw.jobs() == []
        assert gw.post(HOOK, body, signed(body, SECRET)).status_code == 202
        wait_until(lambda: len(helpscout.writes()) == 2 and gw.settled())
        tags, note = helpscout.writes()
        assert tags.path == "/v2/conversations/5/tags" and tags.body == {
            "tags": ["rg_suggested_shipping"]
        }
        assert note.path == "/v2/conversations/5/notes" and note.body["text"].startswith(
            "Suggested: shipping"
        )
        gw.flush()
        helpscout.agent_tags("5", "rg_returns")
        update = helpscout.webhook_body("5")
        assert gw.post(HOOK, update, signed(update, SECRET, "convo.tags")).status_code == 202
        wait_until(lambda: gw.settled() and gw.store.export(rubric="support"))
        [label] = gw.store.export(rubric="support")
        assert (label.label, label.source, label.predicted) == ("returns", "helpdesk", "shipping")


def test_auto_mode_sets_the_category_and_priority_fields_keeping_the_others(
    helpscout: FakeHelpScout, make_gateway
) -> None:
    conn = [
        connection(
            "mailbox",
            "helpscout",
            helpscout.url,
            mode="auto",
            category_field="77",
            priority_field="78",
            priorities={"critical": "401", "high": "402", "normal": "403", "low": "404"},
        )
    ]
    with make_gateway(conn) as gw:
        body = helpscout.webhook_body("6")
        assert gw.post(HOOK, body, signed(body, SECRET)).status_code == 202
        wait_until(lambda: helpscout.writes() and gw.settled())
        [fields] = helpscout.writes()
        assert fields.path == "/v2/conversations/6/fields"
        # the whole list (Help Scout removes a field left out): the team's Region kept, by value
        assert fields.body == {
            "fields": [
                {"id": 12, "value": "31"},
                {"id": 77, "value": "billing"},
                {"id": 78, "value": "402"},  # "as soon as possible": the urgency rule's high
            ]
        }
        assert {f["id"] for f in helpscout.tickets["6"]["customFields"]} == {12, 77, 78}
        # our own field change comes back: no correction
        again = helpscout.webhook_body("6")
        gw.post(HOOK, again, signed(again, SECRET, "convo.custom-fields"))
        wait_until(gw.settled)
        gw.flush()
        assert gw.store.export(rubric="support") == []

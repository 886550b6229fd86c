"""Freshdesk against a fake Freshdesk on 127.0.0.1 (fake_freshdesk.py): secret-header and
basic-auth webhooks, draft note and tags, auto mode, an agent's re-tag as a correction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_freshdesk import FakeFreshdesk, basic, hook_body, secret_header
from fake_server import wait_until
from helpdesk_gateway import ENV, connection

SECRET = ENV["HD_WEBHOOK_SECRET"]
HOOK = "/webhooks/freshdesk/support-desk"
BILLING = (
    "Charged twice",
    "I was charged twice this month for my subscription, please refund the duplicate charge "
    "on my credit card invoice. Call me on +1 415 555 0100.",
)
SHIPPING = (
    "Late package",
    "Where is my package? The tracking has not updated and shipping is late.",
)


@pytest.fixture
def freshdesk() -> Iterator[FakeFreshdesk]:
    with FakeFreshdesk() as fake:
        fake.add_ticket("7", *BILLING)
        fake.add_ticket("8", *SHIPPING)
        yield fake


def test_draft_note_and_tags_then_agent_retag_is_a_correction(
    freshdesk: FakeFreshdesk, make_gateway
) -> None:
    conn = [connection("support-desk", "freshdesk", freshdesk.url, category_field="cf_category")]
    with make_gateway(conn) as gw:
        body = hook_body("8")
        assert gw.post(HOOK, body, secret_header(SECRET)).status_code == 202
        wait_until(lambda: len(freshdesk.writes()) == 2 and gw.settled())
        put, note = freshdesk.writes()
        assert put.path == "/api/v2/tickets/8" and put.body == {
            "tags": ["vip", "rg_suggested_shipping"]
        }
        assert note.path == "/api/v2/tickets/8/notes" and note.body["private"] is True
        assert note.body["body"].startswith("Suggested: shipping")
        assert "has not updated" not in note.body["body"]  # nothing of the ticket quoted
        assert put.headers["authorization"].startswith("Basic ")
        gw.flush()
        freshdesk.tickets["8"]["custom_fields"]["cf_category"] = "returns"  # the agent re-tags
        update = hook_body("8", "{status:{from:Open,to:Pending}}", "2025-01-09T10:00:00Z")
        assert gw.post(HOOK, update, secret_header(SECRET)).status_code == 202
        wait_until(lambda: gw.settled() and gw.store.export(rubric="support"))
        [label] = gw.store.export(rubric="support")
        assert (label.label, label.source, label.predicted) == ("returns", "helpdesk", "shipping")


def test_auto_mode_and_basic_auth(freshdesk: FakeFreshdesk, make_gateway) -> None:
    conn = [
        connection(
            "support-desk",
            "freshdesk",
            freshdesk.url,
            mode="auto",
            freshdesk_auth="basic",
            category_field="cf_category",
            groups={"billing-team": "42"},
            priorities={"high": "high"},
        )
    ]
    with make_gateway(conn) as gw:
        body = hook_body("7")
        assert gw.post(HOOK, body, secret_header(SECRET)).status_code == 401  # basic expected
        assert gw.post(HOOK, body, basic("wrong")).status_code == 401
        assert gw.jobs() == []
        assert gw.post(HOOK, body, basic(SECRET)).status_code == 202
        wait_until(lambda: freshdesk.writes() and gw.settled())
        [put] = freshdesk.writes()
        assert put.body == {
            "custom_fields": {"cf_category": "billing"},
            "group_id": 42,
            "priority": 3,
        }
        assert freshdesk.requests("POST") == []  # auto_route: no draft note

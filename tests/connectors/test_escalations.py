"""Escalations to Slack (a fake incoming webhook on the fake helpdesk's server): rubric, labels,
reason and a link, no ticket text; a failed notification is kept as a failed job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_server import wait_until
from fake_zendesk import FakeZendesk, event_body, signed
from helpdesk_gateway import connection

HOOK = "/webhooks/zendesk/acme"
BREACH = (
    "Account hacked",
    "Someone hacked my account and there was unauthorized access to our billing data. "
    "My email is jane.doe@example.com.",
)


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.add_ticket("301", *BREACH)
        monkeypatch.setenv("HD_SLACK_URL", f"{fake.url}/slack/hook")
        yield fake


def _conn(fake: FakeZendesk) -> list[dict[str, object]]:
    return [
        connection(
            "acme",
            "zendesk",
            fake.url,
            slack_webhook_env="HD_SLACK_URL",
            ticket_url="https://acme.zendesk.com/agent/tickets/{id}",
        )
    ]


def test_escalated_ticket_posts_to_slack_without_its_text(
    zendesk: FakeZendesk, make_gateway
) -> None:
    with make_gateway(_conn(zendesk)) as gw:
        body = event_body("301")
        gw.post(HOOK, body, signed(body))
        wait_until(lambda: zendesk.requests("POST", "/slack/") and gw.settled())
        [message] = zendesk.requests("POST", "/slack/")
        text = message.body["text"]
        assert "rubric support" in text and "security_incident" in text
        assert "category: technical" in text and "priority: critical" in text
        assert "https://acme.zendesk.com/agent/tickets/301" in text
        assert "hacked" not in text and "jane.doe" not in text
        kinds = sorted(j.kind for j in gw.jobs())
        assert kinds == ["event", "notify"] and all(j.state == "done" for j in gw.jobs())


def test_failed_notification_is_listed_not_silent(zendesk: FakeZendesk, make_gateway) -> None:
    for _ in range(2):
        zendesk.fail_next("POST", 500)
    with make_gateway(_conn(zendesk), http_attempts=2, max_attempts=1) as gw:
        body = event_body("301")
        gw.post(HOOK, body, signed(body))
        wait_until(lambda: gw.store.jobs(states=["failed"]))
        wait_until(gw.settled)
        [failed] = gw.store.jobs(states=["failed"])
        assert failed.kind == "notify" and failed.error and "helpdesk_unavailable" in failed.error
        assert len(zendesk.writes()) == 1  # the write-back itself went through

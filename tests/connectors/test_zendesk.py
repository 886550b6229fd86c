"""Zendesk end to end against a fake Zendesk on 127.0.0.1 (tests/connectors/fake_zendesk.py):
created → classified → draft note and tags; auto mode; an agent's re-tag → a correction; our
own update → nothing; a bad signature → 401 and nothing stored; a replay → processed once;
429 with Retry-After → waited for; killed between accept and write-back → done after restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fake_server import wait_until
from fake_zendesk import FakeZendesk, event_body, signed
from helpdesk_gateway import connection

BILLING = (
    "Charged twice",
    "I was charged twice this month for my subscription, please refund the duplicate charge "
    "on my credit card invoice. My email is jane.doe@example.com.",
)
SHIPPING = (
    "Late package",
    "Where is my package? The tracking number has not updated in a week and shipping is late.",
)
HOOK = "/webhooks/zendesk/acme"


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.add_ticket("101", *BILLING)
        fake.add_ticket("102", *SHIPPING)
        yield fake


def _zd(fake: FakeZendesk, **extra: object) -> list[dict[str, object]]:
    return [connection("acme", "zendesk", fake.url, api_user_env="HD_API_USER", **extra)]


def test_created_ticket_gets_a_draft_note_and_tags(zendesk: FakeZendesk, make_gateway) -> None:
    with make_gateway(_zd(zendesk)) as gw:
        body = event_body("101")
        resp = gw.post(HOOK, body, signed(body))
        assert resp.status_code == 202, resp.text
        assert resp.json()["status"] == "queued"
        wait_until(lambda: zendesk.writes() and gw.settled())
        [put] = zendesk.writes()
        assert put.method == "PUT" and put.path == "/api/v2/tickets/101.json"
        update = put.body["ticket"]
        assert update["safe_update"] is True and update["updated_stamp"]
        assert update["additional_tags"] == ["rg_suggested_billing"]
        note = update["comment"]
        assert note["public"] is False
        assert note["body"].startswith("Suggested: billing (")
        # the note quotes nothing of the ticket: no PII, no words of its text
        for quoted in ("jane.doe", "charged twice", "credit card"):
            assert quoted not in note["body"]
        assert "custom_fields" not in update and "priority" not in update  # draft: no fields
        # the API was called as the connection's agent, with its token
        assert put.headers["authorization"].startswith("Basic ")
        [job] = gw.jobs()
        assert job.state == "done" and job.result and job.result["top_label"] == "billing"
        assert "jane" not in str(job.model_dump())  # the job row holds no ticket text
        gw.flush()
        assert gw.store.volume(rubric="support") == 1  # the prediction snapshot, stored


def test_auto_mode_sets_field_group_and_priority_for_a_confident_ticket(
    zendesk: FakeZendesk, make_gateway
) -> None:
    conn = _zd(
        zendesk,
        mode="auto",
        category_field="360001",
        groups={"billing-team": "9001"},
        priorities={"high": "high", "critical": "urgent"},
    )
    with make_gateway(conn) as gw:
        for ticket in ("101", "102"):
            body = event_body(ticket)
            assert gw.post(HOOK, body, signed(body)).status_code == 202
        wait_until(lambda: len(zendesk.writes()) == 2 and gw.settled())
        by_ticket = {c.path: c.body["ticket"] for c in zendesk.writes()}
        confident = by_ticket["/api/v2/tickets/101.json"]
        assert confident["custom_fields"] == [{"id": "360001", "value": "billing"}]
        assert confident["group_id"] == "9001"
        assert confident["priority"] == "high"
        assert "comment" not in confident
        unsure = by_ticket["/api/v2/tickets/102.json"]  # review, not auto_route: a draft
        assert "custom_fields" not in unsure and "group_id" not in unsure
        assert unsure["comment"]["body"].startswith("Suggested: shipping")

        # our own update comes back as a webhook: no correction, no second write
        update = event_body("101", "ticket.custom_field_changed")
        assert gw.post(HOOK, update, signed(update)).status_code == 202
        wait_until(gw.settled)
        gw.flush()
        assert gw.store.export(rubric="support") == []
        assert len(zendesk.writes()) == 2
        own = [j for j in gw.jobs() if ":updated:" in j.key]
        assert own[0].result == {"skipped": "our own update"}


def test_agent_retag_becomes_a_helpdesk_correction(zendesk: FakeZendesk, make_gateway) -> None:
    with make_gateway(_zd(zendesk, category_field="360001")) as gw:
        body = event_body("102")
        gw.post(HOOK, body, signed(body))
        wait_until(lambda: zendesk.writes() and gw.settled())
        gw.flush()
        zendesk.agent_sets_field("102", "360001", "returns")  # the agent disagrees
        update = event_body("102", "ticket.custom_field_changed")
        assert gw.post(HOOK, update, signed(update)).status_code == 202
        wait_until(lambda: gw.settled() and gw.store.export(rubric="support"))
        [label] = gw.store.export(rubric="support")
        assert label.label == "returns" and label.source == "helpdesk"
        assert label.predicted == "shipping"  # linked to our prediction snapshot
        assert label.external_id == "zendesk:acme:102"
        assert label.who == "helpdesk:acme"


def test_bad_signature_is_401_and_nothing_is_stored(zendesk: FakeZendesk, make_gateway) -> None:
    with make_gateway(_zd(zendesk)) as gw:
        body = event_body("101")
        forged = signed(body, secret="not-the-secret")
        resp = gw.post(HOOK, body, forged)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "signature_invalid"
        old = signed(body, at=datetime.now(UTC) - timedelta(minutes=6))
        assert gw.post(HOOK, body, old).status_code == 401  # older than 5 minutes
        tampered = signed(body)
        assert gw.post(HOOK, body.replace(b"101", b"102"), tampered).status_code == 401
        assert gw.post(HOOK, body, {}).status_code == 401
        assert gw.jobs() == []
        assert zendesk.requests() == []


def test_replayed_webhook_is_processed_once(zendesk: FakeZendesk, make_gateway) -> None:
    with make_gateway(_zd(zendesk)) as gw:
        body = event_body("101", event_id="evt-1")
        first = gw.post(HOOK, body, signed(body))
        again = gw.post(HOOK, body, signed(body))
        assert first.status_code == 202 and again.status_code == 200
        assert again.json() == {"status": "duplicate", "job": first.json()["job"]}
        wait_until(lambda: zendesk.writes() and gw.settled())
        late = gw.post(HOOK, body, signed(body))  # redelivered after it was processed
        assert late.json()["status"] == "duplicate"
        other_id = event_body("101", event_id="evt-2")  # the same creation, another event id
        assert gw.post(HOOK, other_id, signed(other_id)).json()["status"] == "duplicate"
        wait_until(gw.settled)
        assert len(zendesk.writes()) == 1
        assert len(zendesk.requests("GET")) == 1


def test_429_with_retry_after_is_waited_for(zendesk: FakeZendesk, make_gateway) -> None:
    zendesk.fail_next("PUT", 429, retry_after="1")
    with make_gateway(_zd(zendesk)) as gw:
        body = event_body("101")
        gw.post(HOOK, body, signed(body))
        wait_until(lambda: len(zendesk.writes()) == 2 and gw.settled())
        first, second = zendesk.writes()
        assert second.at - first.at >= 0.95  # Retry-After: 1 honoured
        [job] = gw.jobs()
        assert job.state == "done" and job.attempts == 1


def test_helpdesk_down_keeps_the_job_as_failed(zendesk: FakeZendesk, make_gateway) -> None:
    for _ in range(4):
        zendesk.fail_next("GET", 503)
    with make_gateway(_zd(zendesk), max_attempts=1, http_attempts=4) as gw:
        body = event_body("101")
        gw.post(HOOK, body, signed(body))
        wait_until(lambda: gw.store.job_counts().get("failed"))
        [job] = gw.jobs()
        assert job.state == "failed"
        assert job.error is not None and job.error.startswith("helpdesk_unavailable")
        assert len(zendesk.requests("GET")) == 4 and zendesk.writes() == []


def test_killed_between_accept_and_write_back_completes_after_restart(
    zendesk: FakeZendesk, make_gateway
) -> None:
    zendesk.hold("GET")  # the first gateway accepts the webhook, then dies mid-job
    with make_gateway(_zd(zendesk), lease_s=1.0) as gw:
        body = event_body("101")
        assert gw.post(HOOK, body, signed(body)).status_code == 202
        wait_until(lambda: zendesk.requests("GET"))
        [job] = gw.jobs()
        assert job.state == "running"
    zendesk.release("GET")
    assert zendesk.writes() == []
    with make_gateway(_zd(zendesk), lease_s=1.0) as gw:  # the same store: a restart
        wait_until(lambda: zendesk.writes() and gw.settled())
        [job] = gw.jobs()
        assert job.state == "done" and job.attempts == 2
        assert len(zendesk.writes()) == 1

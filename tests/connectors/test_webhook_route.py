"""The webhook route's answers for what a sender can get wrong, and `rubric jobs`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_server import wait_until
from fake_zendesk import FakeZendesk, event_body, signed
from helpdesk_gateway import connection
from typer.testing import CliRunner

from gateway.cli import app
from gateway.config import get_settings


def test_unknown_connection_invalid_json_and_ignored_events(make_gateway) -> None:
    with FakeZendesk() as fake, make_gateway([connection("acme", "zendesk", fake.url)]) as gw:
        body = event_body("1")
        assert gw.post("/webhooks/zendesk/other", body, signed(body)).status_code == 404
        assert gw.post("/webhooks/nodesk/acme", body, signed(body)).status_code == 404
        junk = b"{not json"
        resp = gw.post("/webhooks/zendesk/acme", junk, signed(junk))
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
        odd = json.dumps({"ticket": 1}).encode()
        assert gw.post("/webhooks/zendesk/acme", odd, signed(odd)).status_code == 422
        user = json.dumps({"type": "zen:event-type:user.created", "detail": {"id": "5"}}).encode()
        assert gw.post("/webhooks/zendesk/acme", user, signed(user)).json()["status"] == "ignored"
        assert gw.jobs() == []


def test_a_bad_connections_file_is_503_and_its_line_is_logged(
    make_gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with make_gateway([{"name": "acme", "helpdesk": "zendesk"}]) as gw:
        body = event_body("1")
        resp = gw.post("/webhooks/zendesk/acme", body, signed(body))
        assert resp.status_code == 503
        assert "connections.yaml" not in resp.json()["error"]["message"]  # no server paths
    assert "connections.yaml:2: connections[0].api_token_env: Field required" in caplog.text


def test_rubric_jobs_lists_failed_jobs_and_retries_one(
    make_gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no ticket 9 at the fake: 404, a job that cannot succeed
    with FakeZendesk() as fake, make_gateway([connection("acme", "zendesk", fake.url)]) as gw:
        body = event_body("9")
        gw.post("/webhooks/zendesk/acme", body, signed(body))
        wait_until(lambda: gw.store.job_counts().get("failed"))
        [job] = gw.store.jobs()
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # the table unwrapped
    get_settings.cache_clear()
    runner = CliRunner()
    listed = runner.invoke(app, ["jobs", "--json"])
    assert listed.exit_code == 0, listed.output
    row = json.loads(listed.output)
    assert row["id"] == job.id and row["state"] == "failed"
    assert row["error"] == "helpdesk_rejected: GET /api/v2/tickets/9.json: 404"
    table = runner.invoke(app, ["jobs"])
    assert "helpdesk_rejected" in table.output and "zendesk/acme" in table.output
    again = runner.invoke(app, ["jobs", "--retry", str(job.id)])
    assert again.exit_code == 0 and f"job {job.id} queued again" in again.output
    assert (
        json.loads(runner.invoke(app, ["jobs", "--state", "queued", "--json"]).output)["id"]
        == job.id
    )
    # a Redis queue that cannot be read does not hide the store's: listed, said, exit 1
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    partial = runner.invoke(app, ["jobs", "--state", "all", "--json"])
    assert partial.exit_code == 1
    [row] = [json.loads(line) for line in partial.stdout.splitlines()]
    assert row["id"] == job.id and row["queue"] == "store"
    assert "the redis queue cannot be read: shared_state_unavailable" in partial.stderr
    get_settings.cache_clear()

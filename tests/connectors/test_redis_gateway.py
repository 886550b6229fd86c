"""The gateway with its helpdesk jobs in Redis (``GATEWAY_REDIS_URL``, saq) against a fake
Zendesk and the real Redis at 127.0.0.1:6379: created → written back once, a replay processed
once, 429 with Retry-After waited for, a job that cannot succeed kept as failed and listed by
``rubric jobs`` (and retried from it); and Redis down when the webhook arrives → the job waits
in the store's queue instead, and is written back once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_server import wait_until
from fake_zendesk import FakeZendesk, event_body, signed
from helpdesk_gateway import Gateway, connection
from redis_jobs import clean, redis_jobs
from support.redis_server import SHARED_URL, answers, free_port, unique_prefix
from test_zendesk import BILLING, HOOK
from typer.testing import CliRunner

from gateway.cli import app
from gateway.config import get_settings


@pytest.fixture
def prefix() -> Iterator[str]:
    if not answers(SHARED_URL):
        pytest.skip(f"no Redis server answers at {SHARED_URL} (start one: redis-server --save '')")
    prefix = unique_prefix()
    yield prefix
    clean(prefix)


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as fake:
        fake.add_ticket("101", *BILLING)
        yield fake


def settled(prefix: str) -> bool:
    return all(job.state in ("done", "failed") for job in redis_jobs(prefix))


def _zd(fake: FakeZendesk) -> list[dict[str, Any]]:
    return [connection("acme", "zendesk", fake.url, api_user_env="HD_API_USER")]


def _redis(prefix: str, url: str = SHARED_URL) -> dict[str, Any]:
    return {"url": url, "prefix": prefix}


def test_created_replayed_and_429_on_redis(zendesk: FakeZendesk, make_gateway, prefix) -> None:
    zendesk.fail_next("PUT", 429, retry_after="1")
    with make_gateway(_zd(zendesk), redis=_redis(prefix)) as gw:
        gw: Gateway
        body = event_body("101", event_id="evt-1")
        first = gw.post(HOOK, body, signed(body))
        replay = gw.post(HOOK, body, signed(body))
        assert first.status_code == 202 and first.json()["status"] == "queued"
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
        assert replay.json()["job"] == first.json()["job"]
        wait_until(lambda: len(zendesk.writes()) == 2 and settled(prefix))
        late = gw.post(HOOK, body, signed(body))  # redelivered after it was done: still one
        assert late.json()["status"] == "duplicate"
        first_put, second_put = zendesk.writes()
        assert second_put.at - first_put.at >= 0.95  # Retry-After: 1 honoured
        [job] = redis_jobs(prefix)
        assert job.id == first.json()["job"] and job.state == "done" and job.attempts == 1
        assert job.result is not None and job.result["top_label"] == "billing"
        assert "jane" not in json.dumps(job.model_dump(mode="json"))  # no ticket text
        assert gw.jobs() == []  # nothing in the store's queue
    assert len(zendesk.requests("PUT")) == 2 and len(zendesk.requests("GET")) == 1


def test_a_failed_job_is_kept_and_rubric_jobs_lists_and_retries_it_on_redis(
    make_gateway, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeZendesk() as fake, make_gateway(_zd(fake), redis=_redis(prefix)) as gw:
        body = event_body("9")  # no ticket 9 at the fake: 404, a job that cannot succeed
        gw.post(HOOK, body, signed(body))
        wait_until(lambda: any(j.state == "failed" for j in redis_jobs(prefix)))
        [job] = redis_jobs(prefix)
    for name, value in {
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_REDIS_URL": SHARED_URL,
        "GATEWAY_REDIS_PREFIX": prefix,
        "COLUMNS": "200",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(app, ["jobs", "--json"])
        assert listed.exit_code == 0, listed.output
        [row] = [json.loads(line) for line in listed.output.splitlines()]
        assert row["id"] == job.id and row["state"] == "failed" and row["queue"] == "redis"
        assert row["error"] == "helpdesk_rejected: GET /api/v2/tickets/9.json: 404"
        table = runner.invoke(app, ["jobs"])
        assert "redis queue (failed: 1)" in table.output and "zendesk/acme" in table.output
        again = runner.invoke(app, ["jobs", "--retry", str(job.id)])
        assert again.exit_code == 0 and f"job {job.id} queued again (redis)" in again.output
        queued = runner.invoke(app, ["jobs", "--state", "queued", "--json"]).output
        assert json.loads(queued)["id"] == job.id
    finally:
        get_settings.cache_clear()


def test_redis_down_at_the_webhook_queues_it_in_the_store(
    zendesk: FakeZendesk, make_gateway, prefix: str
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with make_gateway(_zd(zendesk), redis=_redis(prefix, dead)) as gw:
        body = event_body("101")
        resp = gw.post(HOOK, body, signed(body))
        assert resp.status_code == 202 and resp.json()["status"] == "queued"
        wait_until(lambda: zendesk.writes() and gw.settled())
        [job] = gw.jobs()  # in the store's queue, drained by the same worker
        assert job.state == "done" and job.id == resp.json()["job"]
        replay = gw.post(HOOK, body, signed(body))
        assert replay.json()["status"] == "duplicate"
    assert len(zendesk.writes()) == 1

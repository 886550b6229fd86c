"""A real restart: a gateway process (``python -m gateway.cli serve``) accepts a webhook and is
SIGKILLed while its job waits on the helpdesk (the fake holds the ticket fetch), before any
write-back; a new process on the same store (and, the second time, the same Redis) finishes
the job after one lease, and the fake helpdesk records exactly one write-back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fake_server import wait_until
from fake_zendesk import FakeZendesk, event_body, signed
from helpdesk_gateway import ENV, connection
from redis_jobs import clean, redis_jobs
from support.redis_server import SHARED_URL, answers, free_port, unique_prefix
from support.replicas import Replica
from test_zendesk import BILLING, HOOK

from gateway.store import JobRecord, open_store

pytestmark = pytest.mark.slow
LEASE_S = 2.0


@pytest.fixture(params=["store", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment that picks the job queue."""
    if request.param == "store":
        yield {}
        return
    if not answers(SHARED_URL):
        pytest.skip(f"no Redis server answers at {SHARED_URL} (start one: redis-server --save '')")
    prefix = unique_prefix()
    yield {"GATEWAY_REDIS_URL": SHARED_URL, "GATEWAY_REDIS_PREFIX": prefix}
    clean(prefix)


def _accept(base: str, body: bytes) -> httpx.Response:
    """The webhook, sent until the process has loaded its store (503 until then)."""
    deadline = time.monotonic() + 120
    while True:
        resp = httpx.post(f"{base}{HOOK}", content=body, headers=signed(body), timeout=10)
        if resp.status_code != 503 or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def _the_job(data: Path, env: dict[str, str]) -> JobRecord:
    if "GATEWAY_REDIS_PREFIX" in env:
        [job] = redis_jobs(env["GATEWAY_REDIS_PREFIX"])
        return job
    store = open_store(f"sqlite:///{data / 'gateway.db'}")
    try:
        [job] = store.jobs()
        return job
    finally:
        store.close()


def test_sigkill_before_write_back_then_restart_writes_back_once(
    tmp_path: Path, backend: dict[str, str]
) -> None:
    with FakeZendesk() as zendesk:
        zendesk.add_ticket("101", *BILLING)
        path = tmp_path / "connections.yaml"
        conn = connection("acme", "zendesk", zendesk.url, api_user_env="HD_API_USER")
        path.write_text(yaml.safe_dump({"connections": [conn]}))
        data = tmp_path / "data"
        env = {
            **ENV,
            **backend,
            "GATEWAY_CONNECTIONS_FILE": str(path),
            "GATEWAY_DATA_DIR": str(data),  # both processes: the same store
            "GATEWAY_JOBS_LEASE_S": str(LEASE_S),
            "GATEWAY_JOBS_POLL_S": "0.1",
            "GATEWAY_REDACT": "false",  # spaCy would only slow the starts
        }
        zendesk.hold("GET")  # the job waits on the ticket fetch: accepted, not written back
        first = Replica("first", free_port(), tmp_path / "first", env)
        try:
            first.wait_ready()
            body = event_body("101")
            resp = _accept(first.base, body)
            assert resp.status_code == 202 and resp.json()["status"] == "queued", resp.text
            wait_until(lambda: zendesk.requests("GET"), timeout_s=120)  # the worker took it
            assert _the_job(data, env).state == "running"
            first.proc.kill()  # SIGKILL: no shutdown, no cleanup, the lease left held
            first.proc.wait(timeout=10)
        finally:
            first.stop()
        zendesk.release("GET")  # the dead process's request: answered to nobody
        time.sleep(0.5)
        assert zendesk.writes() == []
        second = Replica("second", free_port(), tmp_path / "second", env)
        try:
            second.wait_ready()
            wait_until(lambda: zendesk.writes(), timeout_s=120)
            wait_until(lambda: _the_job(data, env).state == "done", timeout_s=30)
            time.sleep(2 * LEASE_S)  # a second write-back would have come by now
            job = _the_job(data, env)
            log = second.output(tail=None)
        finally:
            second.stop()
        assert len(zendesk.writes()) == 1, zendesk.writes()
        assert len(zendesk.requests("GET")) == 2  # the dead run's fetch, and the new one's
        assert job.state == "done" and job.attempts == 2 and job.id == resp.json()["job"]
        assert "charged twice" not in log.lower()  # the ticket's text is in no log

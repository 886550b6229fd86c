"""The job worker over a real SQLite store whose claims fail for a while (a database outage):
it keeps trying with backoff, and the accepted job still runs once, exactly."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.config import ConnectorSettings
from gateway.connectors import JobWorker
from gateway.connectors.queue import StoreJobs
from gateway.errors import HelpdeskUnavailableError, StoreUnavailableError
from gateway.store import JobData, JobRecord, NewJob, Store, open_store


class FlakyStore(Store):
    """The real store, its first ``outages`` claims failing as a lost database would."""

    outages = 3

    def claim_jobs(self, *, worker: str, limit: int, lease_s: float) -> list[JobRecord]:
        if self.outages:
            self.outages -= 1
            raise StoreUnavailableError("the labelled-data store at sqlite:///x is unavailable")
        return super().claim_jobs(worker=worker, limit=limit, lease_s=lease_s)


class Runner:
    """Records the jobs it ran; fails the first run of each with a helpdesk outage."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    async def run(self, job: JobRecord) -> JobData:
        self.runs.append(job.id)
        if job.attempts == 1:
            raise HelpdeskUnavailableError("PUT /api/v2/tickets/1.json: 503 after 4 tries")
        return {"ok": True}


async def test_a_store_outage_and_a_helpdesk_outage_are_retried(tmp_path: Path) -> None:
    opened = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    store = FlakyStore(opened.engine, where=opened.where)
    new = NewJob(key="k", kind="event", helpdesk="zendesk", connection="c", ticket_id="1")
    job, _ = store.enqueue(new)
    settings = ConnectorSettings(poll_s=0.05, backoff_s=0.1)
    runner = Runner()
    worker = JobWorker(StoreJobs(store), runner, settings)
    worker.start()
    try:
        for _ in range(200):
            if store.job(job.id).state == "done":
                break
            await asyncio.sleep(0.05)
        done = store.job(job.id)
    finally:
        await worker.aclose()
        store.close()
    assert store.outages == 0  # the claims failed, and the worker kept going
    assert done.state == "done" and done.attempts == 2 and done.result == {"ok": True}
    assert done.error is not None and done.error.startswith("helpdesk_unavailable")
    assert runner.runs == [job.id, job.id]


class Buggy:
    """A runner with a bug whose message quotes the ticket."""

    async def run(self, job: JobRecord) -> JobData:
        raise KeyError("Hi, this is Maria Gonzalez, my card 4111 1111 1111 1111 was charged")


async def test_an_unexpected_error_keeps_the_job_failed_and_logs_no_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    job, _ = store.enqueue(
        NewJob(key="k", kind="event", helpdesk="zendesk", connection="c", ticket_id="1")
    )
    worker = JobWorker(StoreJobs(store), Buggy(), ConnectorSettings(poll_s=0.05, backoff_s=0.1))
    with caplog.at_level(logging.DEBUG):
        worker.start()
        try:
            for _ in range(200):
                if store.job(job.id).state == "failed":
                    break
                await asyncio.sleep(0.05)
            failed = store.job(job.id)
        finally:
            await worker.aclose()
            store.close()
    assert failed.state == "failed" and failed.error == "internal_error: KeyError"
    logged = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert "failed unexpectedly: KeyError at test_worker.py:" in logged
    assert "Maria" not in logged and "4111" not in logged

"""Lease renewal, on both backends: a job slower than its lease runs once although a second
worker polls the same queue all along (the first one's heartbeat keeps the lease); a worker
that stops renewing (it died) loses the job to the other after one lease."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis_jobs import clean, settings
from support.redis_server import SHARED_URL, answers, unique_prefix

from gateway.config import ConnectorSettings
from gateway.connectors import JobWorker
from gateway.connectors.queue import JobQueue, StoreJobs
from gateway.connectors.redis_queue import RedisJobs
from gateway.store import JobData, JobRecord, NewJob, open_store

LEASE_S = 1.0
SETTINGS = ConnectorSettings(lease_s=LEASE_S, poll_s=0.05, backoff_s=0.1)


class Slow:
    """Takes ``seconds`` per run (three leases), records who ran what."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.runs: list[int] = []

    async def run(self, job: JobRecord) -> JobData:
        self.runs.append(job.id)
        await asyncio.sleep(self.seconds)
        return {"ok": True}


@pytest.fixture(params=["store", "redis"])
async def queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobQueue]:
    if request.param == "store":
        store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
        yield StoreJobs(store)
        store.close()
        return
    if not answers(SHARED_URL):
        pytest.skip(f"no Redis server answers at {SHARED_URL} (start one: redis-server --save '')")
    prefix = unique_prefix()
    jobs = RedisJobs(settings(prefix), SETTINGS)
    yield jobs
    await jobs.aclose()
    clean(prefix)


def new_job() -> NewJob:
    key = f"zendesk:acme:{uuid.uuid4().hex[:8]}:created"
    return NewJob(key=key, kind="event", helpdesk="zendesk", connection="acme", ticket_id="1")


async def _until_done(queue: JobQueue, key: str, timeout_s: float = 15) -> JobRecord:
    for _ in range(int(timeout_s / 0.05)):
        job = await queue.job_by_key(key)
        if job is not None and job.state == "done":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job not done after {timeout_s} s: {job}")


async def test_a_job_slower_than_its_lease_runs_once(queue: JobQueue) -> None:
    new = new_job()
    [(job, _)] = await queue.enqueue_many([new])
    first, second = Slow(3 * LEASE_S), Slow(3 * LEASE_S)
    workers = [JobWorker(queue, first, SETTINGS), JobWorker(queue, second, SETTINGS)]
    workers[0].start()
    await asyncio.sleep(0.3)  # the first claims it; the second polls all along from now
    workers[1].start()
    try:
        done = await _until_done(queue, new.key)
        await asyncio.sleep(2 * LEASE_S)  # a second run would have started by now
    finally:
        for worker in workers:
            await worker.aclose()
    assert first.runs == [job.id] and second.runs == []
    assert done.attempts == 1 and done.result == {"ok": True}


async def test_a_worker_that_stops_renewing_loses_the_job(queue: JobQueue) -> None:
    new = new_job()
    await queue.enqueue_many([new])
    [held] = await queue.claim(worker="dead", limit=1, lease_s=LEASE_S)  # and never renews
    runner = Slow(0.1)
    worker = JobWorker(queue, runner, SETTINGS)
    worker.start()
    try:
        done = await _until_done(queue, new.key)
    finally:
        await worker.aclose()
    assert runner.runs == [held.id] and done.attempts == 2
    assert not await queue.finish(held, worker="dead", result={"late": True})

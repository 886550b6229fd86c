"""Redis with the store's queue behind it (``JobQueues``): a key that ended up in both (a replay
that crossed a Redis outage) runs once, whichever queue holds the earlier copy; the later copy
is settled as a duplicate, and ``job_by_key`` answers with the copy that ran."""

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
from gateway.connectors.queue import StoreJobs
from gateway.connectors.queues import JobQueues
from gateway.connectors.redis_queue import RedisJobs
from gateway.store import JobData, JobRecord, NewJob, open_store

SETTINGS = ConnectorSettings(lease_s=2.0, poll_s=0.05, backoff_s=0.1)


class Runner:
    def __init__(self) -> None:
        self.runs: list[str] = []

    async def run(self, job: JobRecord) -> JobData:
        self.runs.append(job.key)
        return {"ran": True}


@pytest.fixture
async def queues(tmp_path: Path) -> AsyncIterator[JobQueues]:
    if not answers(SHARED_URL):
        pytest.skip(f"no Redis server answers at {SHARED_URL} (start one: redis-server --save '')")
    prefix = unique_prefix()
    store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    both = JobQueues(RedisJobs(settings(prefix), SETTINGS), StoreJobs(store))
    yield both
    await both.aclose()
    store.close()
    clean(prefix)


def new_job() -> NewJob:
    key = f"zendesk:acme:{uuid.uuid4().hex[:8]}:created"
    return NewJob(key=key, kind="event", helpdesk="zendesk", connection="acme", ticket_id="7")


@pytest.mark.parametrize("first", ["store", "redis"])
async def test_a_key_in_both_queues_runs_once(queues: JobQueues, first: str) -> None:
    new = new_job()
    order = [queues.fallback, queues.primary] if first == "store" else queues.all
    for queue in order:
        assert queue is not None
        [(_, created)] = await queue.enqueue_many([new])
        assert created
        await asyncio.sleep(0.01)  # created one after the other
    runner = Runner()
    worker = JobWorker(queues, runner, SETTINGS)
    worker.start()
    try:
        for _ in range(200):
            copies = [await q.job_by_key(new.key) for q in queues.all]
            if all(c is not None and c.state == "done" for c in copies):
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.aclose()
    assert runner.runs == [new.key]
    ran = {q.backend: c for q, c in zip(queues.all, copies, strict=True) if c is not None}
    assert ran[first].result == {"ran": True}
    later = "redis" if first == "store" else "store"
    assert ran[later].result == {"skipped": "a duplicate of an earlier job in another queue"}
    found = await queues.job_by_key(new.key)
    assert found is not None and found.result == {"ran": True}

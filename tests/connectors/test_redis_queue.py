"""The helpdesk job queue on Redis (saq) against the real server at 127.0.0.1:6379: a replay is
one job (while queued, and after it is done), a lease is one worker's and its heartbeat keeps
it, a worker that died loses it, a retry waits its delay, a failed job is kept and listed, and
``retry`` queues it again."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from redis_jobs import clean, settings
from support.redis_server import SHARED_URL, answers, unique_prefix

from gateway.config import ConnectorSettings
from gateway.connectors.redis_queue import RedisJobs
from gateway.errors import ConflictError, SharedStateUnavailableError
from gateway.store import NewJob


def job(key: str, ticket: str = "1") -> NewJob:
    return NewJob(
        key=key,
        kind="event",
        helpdesk="zendesk",
        connection="acme",
        ticket_id=ticket,
        payload={"event": "created"},
    )


@pytest.fixture
def key() -> str:
    return f"zendesk:acme:{uuid.uuid4().hex[:8]}:created"  # saq's abort keys are not per queue


@pytest.fixture
async def jobs() -> AsyncIterator[RedisJobs]:
    if not answers(SHARED_URL):
        pytest.skip(f"no Redis server answers at {SHARED_URL} (start one: redis-server --save '')")
    prefix = unique_prefix()
    queue = RedisJobs(settings(prefix), ConnectorSettings(lease_s=1.0, max_attempts=3))
    yield queue
    await queue.aclose()
    assert clean(prefix) > 0  # the test wrote where we clean


async def test_a_replay_is_one_job_while_queued_and_after_it_is_done(
    jobs: RedisJobs, key: str
) -> None:
    (first, created), (twin, twin_created) = await jobs.enqueue_many([job(key), job(key)])
    assert created and not twin_created and twin.id == first.id
    assert first.state == "queued" and first.payload == {"event": "created"}
    [claimed] = await jobs.claim(worker="a", limit=5, lease_s=1.0)
    assert claimed.id == first.id and claimed.attempts == 1 and claimed.state == "running"
    assert await jobs.finish(claimed, worker="a", result={"top_label": "billing"})
    [(again, created_again)] = await jobs.enqueue_many([job(key)])
    assert not created_again and again.state == "done"
    assert again.result == {"top_label": "billing"}
    assert await jobs.claim(worker="a", limit=5, lease_s=1.0) == []
    assert await jobs.counts() == {"done": 1}


async def test_a_lease_is_one_workers_and_a_dead_workers_job_is_taken_over(
    jobs: RedisJobs, key: str
) -> None:
    await jobs.enqueue_many([job(key)])
    [held] = await jobs.claim(worker="a", limit=5, lease_s=1.0)
    for _ in range(3):  # 1.8 s: past the lease, renewed
        await asyncio.sleep(0.6)
        assert await jobs.renew(held, worker="a", lease_s=1.0)
        assert await jobs.claim(worker="b", limit=5, lease_s=1.0) == []
    assert not await jobs.renew(held, worker="b", lease_s=1.0)  # not b's
    await asyncio.sleep(2.2)  # a stops renewing: dead, as far as the queue knows
    [taken] = await jobs.claim(worker="b", limit=5, lease_s=1.0)
    assert taken.id == held.id and taken.attempts == 2 and taken.lease_owner == "b"
    assert not await jobs.finish(held, worker="a", result={"late": True})  # a's claim is gone
    assert await jobs.finish(taken, worker="b", result={"ok": True})
    done = await jobs.job_by_key(held.key)
    assert done is not None and done.state == "done" and done.result == {"ok": True}


async def test_a_retry_waits_its_delay_and_a_failed_job_is_kept_and_queued_again(
    jobs: RedisJobs, key: str
) -> None:
    await jobs.enqueue_many([job(key)])
    [first] = await jobs.claim(worker="a", limit=1, lease_s=1.0)
    assert await jobs.fail(first, worker="a", error="helpdesk_unavailable: 429", retry_in_s=1.2)
    assert await jobs.claim(worker="a", limit=1, lease_s=1.0) == []  # not due yet
    await asyncio.sleep(1.5)
    [second] = await jobs.claim(worker="a", limit=1, lease_s=1.0)
    assert second.attempts == 2 and second.error == "helpdesk_unavailable: 429"
    assert await jobs.fail(second, worker="a", error="helpdesk_rejected: 404", retry_in_s=None)
    [failed] = await jobs.jobs(states=["failed"], limit=10)
    assert failed.id == first.id and failed.error == "helpdesk_rejected: 404"
    assert await jobs.counts() == {"failed": 1}
    assert await jobs.claim(worker="a", limit=1, lease_s=1.0) == []
    queued = await jobs.retry(failed.id)
    assert queued.state == "queued" and queued.attempts == 0
    with pytest.raises(ConflictError):
        await jobs.retry(failed.id)
    [third] = await jobs.claim(worker="a", limit=1, lease_s=1.0)
    assert third.id == failed.id and third.attempts == 1


async def test_redis_down_is_a_shared_state_error_within_a_second(key: str) -> None:
    from support.redis_server import free_port

    queue = RedisJobs(settings("x:", f"redis://127.0.0.1:{free_port()}/0"), ConnectorSettings())
    try:
        with pytest.raises(SharedStateUnavailableError):
            await asyncio.wait_for(queue.enqueue_many([job(key)]), 1.5)
    finally:
        await queue.aclose()


async def test_a_redis_that_could_lose_jobs_is_warned_about(
    jobs: RedisJobs, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    await jobs.enqueue_many([job(key)])  # (the fixture checks it cleans what was written)
    aof = int((await jobs.client.info("persistence"))["aof_enabled"])
    with caplog.at_level(logging.WARNING):
        await jobs.check()  # the shared test server runs without persistence (no AOF)
    assert ("redis appendonly is off" in caplog.text) == (not aof)

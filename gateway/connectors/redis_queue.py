"""The helpdesk job queue in Redis, on saq's ``RedisQueue`` (``GATEWAY_REDIS_URL``).

Why saq (issue 18 compared arq, rq, taskiq and saq): it is asyncio-native like the gateway, is
maintained, and gives what a lease needs: jobs keyed by our idempotency key (its enqueue script
refuses a key that is queued or running), an atomic dequeue (``BLMOVE`` queued → active),
delayed retries (a sorted set moved to the queue by ``schedule``) and a sweep that requeues a
job whose heartbeat stopped (its worker died). arq is in maintenance mode; rq is synchronous,
with forking workers; taskiq acknowledges deliveries only with its Redis Streams broker.

We drive saq's queue with our own worker (``worker``), not saq's ``Worker``: the retry policy
(attempts, backoff at least ``Retry-After``), the lease renewal and the log hygiene (saq's worker
logs and stores tracebacks, whose messages may quote a ticket) are ours, the same for both
backends. The lease is saq's ``heartbeat`` (renewed by ``renew``; states: ``redis_records``).
Failed jobs are kept without expiry (``ttl`` 0); done ones for
``GATEWAY_JOBS_REDIS_DONE_TTL_S`` (a replay within it is still one job; a correction finds the
classification by it). Ids: a counter in Redis, so ``rubric jobs --retry ID`` works as it does
on the store. The payload is the job's, never ticket text.

Two settles are compare-then-act (the job read, then written), not one atomic step: a job is
settled by its holder only while its heartbeat runs, so the sweep never takes it in between.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from redis.asyncio import Redis
from saq import Job, Status
from saq.queue.redis import RedisQueue

from gateway.config import ConnectorSettings, RedisSettings
from gateway.connectors.queue import Backend
from gateway.connectors.redis_records import FAILED, OP_TIMEOUT_S, STATES, connect, record
from gateway.errors import ConflictError, GatewayError, ItemNotFoundError
from gateway.shared import translate
from gateway.store import JobData, JobRecord, JobState, NewJob

T = TypeVar("T")

log = logging.getLogger(__name__)
# saq logs every enqueue, dequeue and finish at INFO (job keys, no text): our worker logs
# what matters, by job id
logging.getLogger("saq").setLevel(logging.WARNING)

_FUNCTION = "helpdesk"  # saq's job "function": one kind of job, run by our worker
_SWEEP_TIMEOUT_S = 30.0
_DEQUEUE_WAIT_S = 0.01  # BLMOVE's block when the queue is empty: claims poll, never hang
_SCHEDULE_EVERY_S = 0.5
_CLOSE_TIMEOUT_S = 5.0  # due retries are moved to the queue this often (delays are seconds)


class RedisJobs:
    """A ``JobQueue`` on saq's ``RedisQueue``; Redis' failures are
    ``SharedStateUnavailableError`` (``gateway.shared.translate``)."""

    backend: Backend = "redis"

    def __init__(
        self, redis: RedisSettings, settings: ConnectorSettings, client: Redis | None = None
    ) -> None:
        self.settings = settings
        self.client = client or connect(redis)
        # a batch of webhooks' enqueues go together, as many as the pool has connections
        self.queue = RedisQueue(
            self.client, name=f"{redis.prefix}helpdesk", max_concurrent_ops=redis.max_connections
        )
        self._ids = f"{redis.prefix}helpdesk:next-id"
        self._swept_at = -math.inf
        self._scheduled_at = -math.inf

    async def _call(self, op: str, work: Awaitable[T], timeout_s: float = OP_TIMEOUT_S) -> T:
        try:
            return await asyncio.wait_for(work, timeout_s)
        except GatewayError:
            raise
        except Exception as exc:
            raise translate(f"job queue {op}", exc) from exc

    # ------------------------------------------------------------------ intake
    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[tuple[JobRecord, bool]]:
        return await self._call("enqueue", self._enqueue_many(jobs))

    async def _enqueue_many(self, jobs: Sequence[NewJob]) -> list[tuple[JobRecord, bool]]:
        """Three round trips for a batch, whatever its size: the keys looked up (saq refuses
        a key that is queued or running, but would queue a done or failed one again), ids
        for the new ones, their enqueues together."""
        if not jobs:
            return []
        keys = list(dict.fromkeys(job.key for job in jobs))
        found = {k: j for k, j in zip(keys, await self.queue.jobs(keys), strict=True) if j}
        fresh = [k for k in keys if k not in found]
        queued: list[Job | None] = []
        if fresh:
            last = int(await self.client.incrby(self._ids, len(fresh)))
            by_key = {job.key: job for job in jobs}
            queued = await asyncio.gather(
                *(self._enqueue(by_key[k], last - len(fresh) + 1 + i) for i, k in enumerate(fresh))
            )
        created: dict[str, Job] = {}
        for key, job in zip(fresh, queued, strict=True):
            if job is not None:
                created[key] = job
            else:  # queued by another replica in between
                found[key] = await self._existing(key)
        out: list[tuple[JobRecord, bool]] = []
        for new in jobs:
            if new.key in created:
                out.append((record(created.pop(new.key)), True))
            else:  # known before, or an earlier job of this batch had the key
                out.append((record(found.get(new.key) or await self._existing(new.key)), False))
        return out

    async def _enqueue(self, new: NewJob, job_id: int) -> Job | None:
        job = Job(
            function=_FUNCTION,
            key=new.key,
            kwargs={**new.model_dump(exclude={"key"}), "id": job_id, "created_ms": _now_ms()},
            timeout=0,  # no limit on a run: the heartbeat is the lease
            heartbeat=self._heartbeat_s,
            retries=self.settings.max_attempts,  # what the sweep allows a job whose worker died
            ttl=0,
        )
        return await self.queue.enqueue(job)

    async def _existing(self, key: str) -> Job:
        job = await self.queue.job(key)
        if job is None:
            raise ConflictError(f"job {key!r} neither queued nor found")
        return job

    @property
    def _heartbeat_s(self) -> int:
        return max(1, math.ceil(self.settings.lease_s))

    async def job_by_key(self, key: str) -> JobRecord | None:
        job = await self._call("read", self.queue.job(key))
        return record(job) if job is not None else None

    # ------------------------------------------------------------------ worker
    async def claim(self, *, worker: str, limit: int, lease_s: float) -> list[JobRecord]:
        if time.monotonic() - self._scheduled_at >= _SCHEDULE_EVERY_S:
            self._scheduled_at = time.monotonic()
            await self._call("schedule", self.queue.schedule(lock=1))  # due retries → queued
        await self._sweep()
        waiting = await self._call("count", self.queue.count("queued"))
        if not waiting:
            return []
        # each dequeue is atomic (BLMOVE queued → active): taken together, none twice
        wait = self.queue.dequeue(timeout=_DEQUEUE_WAIT_S)
        taken = await self._call(
            "dequeue",
            asyncio.gather(
                wait,
                *(
                    self.queue.dequeue(timeout=_DEQUEUE_WAIT_S)
                    for _ in range(min(limit, waiting) - 1)
                ),
            ),
        )
        jobs = [job for job in taken if job is not None]
        for job in jobs:
            job.started = _now_ms()
            job.attempts += 1
            job.worker_id = worker
            job.heartbeat = max(1, math.ceil(lease_s))
        await self._call(
            "claim", asyncio.gather(*(job.update(status=Status.ACTIVE) for job in jobs))
        )
        return [record(job) for job in jobs]

    async def _sweep(self) -> None:
        """Requeue jobs whose heartbeat stopped (their worker died); one replica at a time
        (saq's lock), at most every half lease."""
        every = max(1.0, min(60.0, self.settings.lease_s / 2))
        if time.monotonic() - self._swept_at < every:
            return
        self._swept_at = time.monotonic()
        # abort: how long to wait for a dead worker to acknowledge (it never does)
        # (each stuck job waits that long: a crash leaves several, hence the longer bound)
        await self._call("sweep", self.queue.sweep(lock=int(every), abort=0.2), _SWEEP_TIMEOUT_S)

    async def _held(self, job: JobRecord, worker: str) -> Job | None:
        """The job as stored, if ``worker`` still holds this claim of it."""
        current = await self._call("read", self.queue.job(job.key))
        if (
            current is None
            or current.status != Status.ACTIVE
            or current.worker_id != worker
            or current.attempts != job.attempts
        ):
            return None
        return current

    async def renew(self, job: JobRecord, *, worker: str, lease_s: float) -> bool:
        current = await self._held(job, worker)
        if current is None:
            return False
        await self._call("renew", current.update())  # touched = now: the heartbeat
        return True

    async def finish(self, job: JobRecord, *, worker: str, result: JobData) -> bool:
        current = await self._held(job, worker)
        if current is None:
            return False
        current.ttl = self.settings.redis_done_ttl_s
        await self._call("finish", self.queue.finish(current, Status.COMPLETE, result=result))
        return True

    async def fail(
        self, job: JobRecord, *, worker: str, error: str, retry_in_s: float | None
    ) -> bool:
        current = await self._held(job, worker)
        if current is None:
            return False
        if retry_in_s is None:
            current.ttl = 0  # a failed job is kept until someone retries it
            await self._call("fail", self.queue.finish(current, Status.FAILED, error=error))
            return True
        current.retry_delay, current.retry_backoff = retry_in_s, False  # our delay, exactly
        if retry_in_s > 0:
            current.scheduled = int(time.time() + retry_in_s)
        await self._call("retry", self.queue.retry(current, error))
        return True

    # ------------------------------------------------------------------ listing
    async def _all(self, statuses: list[Status]) -> list[Job]:
        async def scan() -> list[Job]:
            return [job async for job in self.queue.iter_jobs(statuses=statuses)]

        try:
            return await scan()
        except GatewayError:
            raise
        except Exception as exc:
            raise translate("job queue list", exc) from exc

    async def jobs(self, *, states: Sequence[JobState] | None, limit: int) -> list[JobRecord]:
        wanted = [s for s, ours in STATES.items() if states is None or ours in states]
        records = [record(job) for job in await self._all(wanted)]
        records.sort(key=lambda r: (r.updated_at, r.id), reverse=True)
        return records[:limit]

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in await self._all(list(Status)):
            state = STATES[job.status]
            counts[state] = counts.get(state, 0) + 1
        return counts

    async def retry(self, job_id: int) -> JobRecord:
        for job in await self._all(list(Status)):
            if int((job.kwargs or {}).get("id", -1)) != job_id:
                continue
            if job.status not in FAILED:
                raise ConflictError(f"job {job_id} is {STATES[job.status]}, not failed")
            job.attempts, job.scheduled, job.retry_delay = 0, 0, 0.0
            queued = await self._call("enqueue", self.queue.enqueue(job))
            if queued is None:
                raise ConflictError(
                    f"job {job_id} could not be queued now; try again in a few seconds"
                )
            return record(queued)
        raise ItemNotFoundError(f"no job {job_id}")

    async def check(self) -> None:
        """Warns, once at start-up, when this Redis could lose accepted jobs: no append-only
        file (a restart of Redis empties the queue) or an ``allkeys-*`` eviction policy (queued
        and failed jobs have no TTL: ``volatile-*`` never evicts them, ``allkeys-*`` may)."""
        try:
            info = await self._call("check", self.client.info())
        except GatewayError:
            return  # down now: the worker says so when it claims
        if not int(info.get("aof_enabled", 0)):
            log.warning(
                "redis appendonly is off: a restart of Redis loses the helpdesk jobs waiting "
                "in it; set appendonly yes (appendfsync always to lose none)"
            )
        policy = str(info.get("maxmemory_policy", ""))
        if policy.startswith("allkeys"):
            log.warning(
                "redis maxmemory-policy=%s may evict waiting helpdesk jobs; use volatile-lru",
                policy,
            )

    async def aclose(self) -> None:
        # bounded: shutting down must not wait on Redis (saq's disconnect unsubscribes its
        # pub/sub and closes the pool, each a round trip to a server that may be gone)
        try:
            await asyncio.wait_for(self.queue.disconnect(), _CLOSE_TIMEOUT_S)
        except Exception:  # closing a client whose server is gone: nothing to keep
            log.warning("job queue: Redis connections not closed cleanly at shutdown")


def _now_ms() -> int:
    return int(time.time() * 1000)

"""The job queues a process uses: the store's alone (the default), or Redis with the store
behind it.

Redis down when a webhook arrives: the job goes to the store's queue and the webhook is
acknowledged; the worker drains both. A 503 would also lose nothing *if* every helpdesk
redelivered, but their retry policies differ (some retry a few times over minutes, some not at
all), while the store is there anyway (predictions and labels live in it): the fallback is the
choice that loses nothing whoever sent the webhook. For a while after a failure (the Redis
link's check interval) webhooks go straight to the store instead of waiting on Redis again.

A replay that crosses an outage can leave one key in both queues. Before a job runs, the worker
asks the other queue (``superseded``): the copy created first runs, the later one is settled as
a duplicate, so the ticket is still written back once (were Redis down at that moment too, the
job runs: at least once).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

from gateway.connectors.queue import Backend, JobQueue
from gateway.errors import SharedStateUnavailableError
from gateway.store import JobRecord, NewJob

log = logging.getLogger(__name__)
_WARN_EVERY_S = 60.0


class JobQueues:
    def __init__(
        self, primary: JobQueue, fallback: JobQueue | None = None, *, skip_s: float = 2.0
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.skip_s = skip_s
        self._skip_until = -math.inf
        self._warned_at = -math.inf

    @property
    def all(self) -> list[JobQueue]:
        """Every queue the worker drains, the primary first."""
        return [self.primary] if self.fallback is None else [self.primary, self.fallback]

    def get(self, backend: Backend) -> JobQueue | None:
        return next((q for q in self.all if q.backend == backend), None)

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[tuple[JobRecord, bool]]:
        if self.fallback is None:
            return await self.primary.enqueue_many(jobs)
        if time.monotonic() < self._skip_until:
            return await self.fallback.enqueue_many(jobs)
        try:
            return await self.primary.enqueue_many(jobs)
        except SharedStateUnavailableError as exc:
            now = time.monotonic()
            self._skip_until = now + self.skip_s
            if now - self._warned_at >= _WARN_EVERY_S:
                self._warned_at = now
                log.warning("%s; helpdesk jobs are queued in the store meanwhile", exc.message)
            return await self.fallback.enqueue_many(jobs)

    async def enqueue(self, job: NewJob) -> tuple[JobRecord, bool]:
        [queued] = await self.enqueue_many([job])
        return queued

    async def job_by_key(self, key: str) -> JobRecord | None:
        """The job with this key; in both queues, the one created first (the one that runs)."""
        found = [job for _, job in await self._everywhere(key)]
        return min(found, key=lambda j: j.created_at) if found else None

    async def superseded(self, queue: JobQueue, job: JobRecord) -> bool:
        """Whether another queue holds an earlier job with this key (then this one is a
        duplicate from a replay that crossed a Redis outage)."""
        if self.fallback is None:
            return False
        order = {id(q): i for i, q in enumerate(self.all)}
        mine = (job.created_at, order[id(queue)])
        return any(
            (other.created_at, order[id(q)]) < mine
            for q, other in await self._everywhere(job.key)
            if q is not queue
        )

    async def _everywhere(self, key: str) -> list[tuple[JobQueue, JobRecord]]:
        found: list[tuple[JobQueue, JobRecord]] = []
        for queue in self.all:  # one down: an error, not half an answer (the job retries)
            job = await queue.job_by_key(key)
            if job is not None:
                found.append((queue, job))
        return found

    async def check(self) -> None:
        for queue in self.all:
            await queue.check()

    async def aclose(self) -> None:
        for queue in self.all:
            await queue.aclose()

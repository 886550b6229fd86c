"""The seam between the connectors and where their jobs wait: the ``JobQueue`` protocol, and its
default, the store's ``jobs`` table (``StoreJobs``). The Redis backend (saq) is in
``redis_queue``; ``JobQueues`` is what the route, the worker and ``rubric jobs`` use: one queue
or Redis with the store behind it (``queues``).

Every backend keeps the same promises: ``enqueue`` is idempotent on the job's key (a replayed
webhook is one job); a claimed job is leased to one worker, which renews the lease while it
runs; only the holder settles it; a failure is rescheduled or kept as ``failed``, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import anyio.to_thread

from gateway.store import JobData, JobRecord, JobState, NewJob, Store

Backend = Literal["store", "redis"]


class JobQueue(Protocol):
    """A durable, idempotent job queue with leases."""

    backend: Backend

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[tuple[JobRecord, bool]]:
        """Each job as queued, in order, and whether this call queued it (False: its key was
        there already)."""
        ...

    async def job_by_key(self, key: str) -> JobRecord | None: ...

    async def claim(self, *, worker: str, limit: int, lease_s: float) -> list[JobRecord]:
        """Lease up to ``limit`` due jobs to ``worker``; each claim counts as an attempt."""
        ...

    async def renew(self, job: JobRecord, *, worker: str, lease_s: float) -> bool:
        """The running job's heartbeat; False when ``worker`` no longer holds it."""
        ...

    async def finish(self, job: JobRecord, *, worker: str, result: JobData) -> bool: ...

    async def fail(
        self, job: JobRecord, *, worker: str, error: str, retry_in_s: float | None
    ) -> bool:
        """Reschedule after ``retry_in_s`` seconds, or (None) keep as failed."""
        ...

    async def jobs(self, *, states: Sequence[JobState] | None, limit: int) -> list[JobRecord]:
        """Jobs in these states (all: None), newest change first."""
        ...

    async def counts(self) -> dict[str, int]: ...

    async def retry(self, job_id: int) -> JobRecord:
        """Queue a failed job again, now (``rubric jobs --retry``)."""
        ...

    async def check(self) -> None:
        """Warn (log) about a setting that could lose jobs; never raises."""
        ...

    async def aclose(self) -> None: ...


class StoreJobs:
    """The store's ``jobs`` table as a ``JobQueue`` (its calls in a worker thread)."""

    backend: Backend = "store"

    def __init__(self, store: Store) -> None:
        self.store = store

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> list[tuple[JobRecord, bool]]:
        return await anyio.to_thread.run_sync(self.store.enqueue_many, list(jobs))

    async def job_by_key(self, key: str) -> JobRecord | None:
        return await anyio.to_thread.run_sync(self.store.job_by_key, key)

    async def claim(self, *, worker: str, limit: int, lease_s: float) -> list[JobRecord]:
        def claim() -> list[JobRecord]:
            return self.store.claim_jobs(worker=worker, limit=limit, lease_s=lease_s)

        return await anyio.to_thread.run_sync(claim)

    async def renew(self, job: JobRecord, *, worker: str, lease_s: float) -> bool:
        def renew() -> bool:
            return self.store.renew_job(job.id, worker=worker, lease_s=lease_s)

        return await anyio.to_thread.run_sync(renew)

    async def finish(self, job: JobRecord, *, worker: str, result: JobData) -> bool:
        def finish() -> bool:
            return self.store.finish_job(job.id, worker=worker, result=result)

        return await anyio.to_thread.run_sync(finish)

    async def fail(
        self, job: JobRecord, *, worker: str, error: str, retry_in_s: float | None
    ) -> bool:
        def fail() -> bool:
            return self.store.fail_job(job.id, worker=worker, error=error, retry_in_s=retry_in_s)

        return await anyio.to_thread.run_sync(fail)

    async def jobs(self, *, states: Sequence[JobState] | None, limit: int) -> list[JobRecord]:
        def jobs() -> list[JobRecord]:
            return self.store.jobs(states=states, limit=limit)

        return await anyio.to_thread.run_sync(jobs)

    async def counts(self) -> dict[str, int]:
        return await anyio.to_thread.run_sync(self.store.job_counts)

    async def retry(self, job_id: int) -> JobRecord:
        return await anyio.to_thread.run_sync(self.store.retry_job, job_id)

    async def check(self) -> None:
        return None  # the store's durability is the database's (its migrations checked it)

    async def aclose(self) -> None:
        return None  # the store is the server's, closed by it

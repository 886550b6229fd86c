"""The job worker: claims due jobs from its queues (``JobQueues``: the store's, or Redis with
the store's behind it) and runs them, a few at a time.

While a job runs, its lease is renewed every third of ``GATEWAY_JOBS_LEASE_S`` (the heartbeat),
so a job slower than one lease is never claimed by a second worker; a worker that dies stops
renewing, and after one lease another worker (or this one, restarted) runs the job again. A
worker that finds its lease taken (it was paused past its lease) stops its run.

A job that fails for a reason that may pass (the helpdesk's 429/5xx after its retries, the
store or the model not ready, a prediction not stored yet) is rescheduled with exponential
backoff (at least its ``Retry-After``) until ``GATEWAY_JOBS_MAX_ATTEMPTS``; then, or at once
for a failure that will not pass (a 4xx from the helpdesk, a ticket the rubric refuses), it is
kept as ``failed`` and listed by ``rubric jobs``. A queue's outage (the store, Redis) stops
claiming from it, never the worker: it tries again with backoff. Logs name jobs by id and
error code, never ticket text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Protocol

from gateway.config import ConnectorSettings
from gateway.connectors.jobs import Retry
from gateway.connectors.queue import JobQueue
from gateway.connectors.queues import JobQueues
from gateway.errors import (
    GatewayError,
    HelpdeskUnavailableError,
    NotReadyError,
    ProviderUnavailableError,
    SharedStateUnavailableError,
    StoreUnavailableError,
)
from gateway.store import JobData, JobRecord

log = logging.getLogger(__name__)
_CLOSE_TIMEOUT_S = 10.0

# failures that may pass: the job is rescheduled (until its attempts run out)
_TRANSIENT = (
    HelpdeskUnavailableError,
    StoreUnavailableError,
    SharedStateUnavailableError,  # Redis, when a job looks another one up in it
    NotReadyError,
    ProviderUnavailableError,
)


class Runs(Protocol):
    """What runs a job (``JobRunner``): its result, or an error saying whether to retry."""

    async def run(self, job: JobRecord) -> JobData: ...


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobWorker:
    def __init__(
        self, queues: JobQueues | JobQueue, runner: Runs, settings: ConnectorSettings
    ) -> None:
        self.queues = queues if isinstance(queues, JobQueues) else JobQueues(queues)
        self.runner = runner
        self.settings = settings
        self.name = worker_name()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._main: asyncio.Task[None] | None = None
        # per queue: when to claim from it again after an outage, and the next delay
        self._retry_at: dict[int, tuple[float, float]] = {}

    def start(self) -> None:
        self._main = asyncio.get_running_loop().create_task(self._loop(), name="job-worker")

    def wake(self) -> None:
        """A job was queued: claim now instead of at the next poll."""
        self._wake.set()

    async def aclose(self) -> None:
        """Stop claiming and cancel what runs: their leases run out and another worker (or
        this one after a restart) runs them again."""
        tasks = [*([self._main] if self._main is not None else []), *self._running]
        for task in tasks:
            task.cancel()
        # bounded: a library call that outlives its cancellation must not hold up shutdown
        # (the jobs' leases run out all the same)
        _, pending = await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT_S) if tasks else ((), ())
        if pending:
            log.warning("job worker: %d task(s) still stopping at shutdown", len(pending))

    async def _loop(self) -> None:
        await self.queues.check()
        while True:
            full = False
            for queue in self.queues.all:
                free = self.settings.concurrency - len(self._running)
                if free <= 0:
                    break
                jobs = await self._claim(queue, free)
                for job in jobs:
                    task = asyncio.get_running_loop().create_task(self._run(queue, job))
                    self._running.add(task)
                    task.add_done_callback(self._done)
                full = full or (bool(jobs) and len(jobs) == free)
            if full:
                continue  # more may be due
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_s)

    async def _claim(self, queue: JobQueue, limit: int) -> list[JobRecord]:
        loop = asyncio.get_running_loop()
        at, delay = self._retry_at.get(id(queue), (0.0, self.settings.poll_s))
        if loop.time() < at:
            return []
        try:
            jobs = await queue.claim(worker=self.name, limit=limit, lease_s=self.settings.lease_s)
        except GatewayError as exc:
            log.warning(
                "job queue (%s) unavailable (%s); retrying in %.1f s",
                queue.backend,
                exc.code,
                delay,
            )
            self._retry_at[id(queue)] = (loop.time() + delay, min(delay * 2, 30.0))
            return []
        if queue is not self.queues.primary and not jobs:
            # the fallback is empty nearly always: looked at once a poll, not at every wake
            self._retry_at[id(queue)] = (loop.time() + self.settings.poll_s, self.settings.poll_s)
        else:
            self._retry_at.pop(id(queue), None)
        return jobs

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot came free

    def _backoff(self, job: JobRecord, at_least: float | None) -> float | None:
        if job.attempts >= self.settings.max_attempts:
            return None
        delay = min(self.settings.backoff_s * 2 ** (job.attempts - 1), self.settings.backoff_max_s)
        return float(max(delay, at_least or 0.0))

    async def _heartbeat(
        self, queue: JobQueue, job: JobRecord, work: asyncio.Task[JobData]
    ) -> None:
        """Renew the lease while ``work`` runs; stop it if another worker holds the job now."""
        every = self.settings.lease_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                held = await queue.renew(job, worker=self.name, lease_s=self.settings.lease_s)
            except GatewayError as exc:  # an outage: the next beat may get through
                log.warning("job %d: lease not renewed (%s)", job.id, exc.code)
                continue
            if not held:
                log.warning("job %d: its lease ran out and another worker has it; stopped", job.id)
                work.cancel()
                return

    async def _run(self, queue: JobQueue, job: JobRecord) -> None:
        if await self._duplicate(queue, job):
            return
        work = asyncio.get_running_loop().create_task(self.runner.run(job))
        beat = asyncio.get_running_loop().create_task(self._heartbeat(queue, job, work))
        try:
            result = await work
        except asyncio.CancelledError:
            if beat.done() and work.cancelled():
                return  # the lease was lost: the other worker's outcome counts
            raise
        except Retry as exc:
            await self._settle_failure(queue, job, f"waiting: {exc}", self._backoff(job, None))
            return
        except _TRANSIENT as exc:
            wait = exc.retry_after_s if isinstance(exc, HelpdeskUnavailableError) else None
            error, retry_in = f"{exc.code}: {exc.message}", self._backoff(job, wait)
            await self._settle_failure(queue, job, error, retry_in)
            return
        except GatewayError as exc:
            await self._settle_failure(queue, job, f"{exc.code}: {exc.message}", None)
            return
        except Exception as exc:  # a bug or an unexpected API answer: kept as failed, not lost
            # where, not the message: an unexpected error's text may quote the ticket
            log.error(
                "job %d failed unexpectedly: %s at %s", job.id, type(exc).__name__, _where(exc)
            )
            await self._settle_failure(queue, job, f"internal_error: {type(exc).__name__}", None)
            return
        finally:
            beat.cancel()
        await self._settle(lambda: queue.finish(job, worker=self.name, result=result))
        log.info("job %d (%s %s) done", job.id, job.kind, job.helpdesk)

    async def _duplicate(self, queue: JobQueue, job: JobRecord) -> bool:
        """A copy of a job that another queue holds from before (a replay across a Redis
        outage): settled as such, not run."""
        try:
            if not await self.queues.superseded(queue, job):
                return False
        except GatewayError:
            return False  # cannot tell: run it (at least once)
        log.info("job %d: a duplicate of an earlier job in another queue", job.id)
        result: JobData = {"skipped": "a duplicate of an earlier job in another queue"}
        await self._settle(lambda: queue.finish(job, worker=self.name, result=result))
        return True

    async def _settle_failure(
        self, queue: JobQueue, job: JobRecord, error: str, retry_in: float | None
    ) -> None:
        if retry_in is None:
            log.error("job %d (%s %s) failed: %s", job.id, job.kind, job.helpdesk, error)
        else:
            log.warning("job %d: %s; retrying in %.0f s", job.id, error, retry_in)
        await self._settle(
            lambda: queue.fail(job, worker=self.name, error=error[:1000], retry_in_s=retry_in)
        )

    async def _settle(self, write: Callable[[], Awaitable[object]]) -> None:
        """Record an outcome, retrying a queue's outage for a while; if it stays down the
        lease runs out and the job runs again (a write-back is then repeated, never lost)."""
        delay = 0.2
        for _ in range(8):
            try:
                await write()
                return
            except (StoreUnavailableError, SharedStateUnavailableError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        log.error("could not record a job's outcome: its queue stayed unavailable")


def _where(exc: BaseException) -> str:
    """The innermost frames of an exception (file:line function), never its message."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " < ".join(f"{PurePath(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))

"""The job worker: claims due jobs from the store's queue and runs them, a few at a time.

A job that fails for a reason that may pass (the helpdesk's 429/5xx after its retries, the
store or the model not ready, a prediction not stored yet) is rescheduled with exponential
backoff (at least its ``Retry-After``) until ``GATEWAY_JOBS_MAX_ATTEMPTS``; then, or at once
for a failure that will not pass (a 4xx from the helpdesk, a ticket the rubric refuses), it is
kept as ``failed`` and listed by ``rubric jobs``. A store outage stops claiming, never the
worker: it tries again with backoff. Logs name jobs by id and error code, never ticket text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Callable
from pathlib import PurePath
from typing import Protocol

import anyio.to_thread

from gateway.config import ConnectorSettings
from gateway.connectors.jobs import Retry
from gateway.errors import (
    GatewayError,
    HelpdeskUnavailableError,
    NotReadyError,
    ProviderUnavailableError,
    StoreUnavailableError,
)
from gateway.store import JobData, JobRecord, Store

log = logging.getLogger(__name__)

# failures that may pass: the job is rescheduled (until its attempts run out)
_TRANSIENT = (
    HelpdeskUnavailableError,
    StoreUnavailableError,
    NotReadyError,
    ProviderUnavailableError,
)


class Runs(Protocol):
    """What runs a job (``JobRunner``): its result, or an error saying whether to retry."""

    async def run(self, job: JobRecord) -> JobData: ...


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobWorker:
    def __init__(self, store: Store, runner: Runs, settings: ConnectorSettings) -> None:
        self.store = store
        self.runner = runner
        self.settings = settings
        self.name = worker_name()
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._main: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._main = asyncio.get_running_loop().create_task(self._loop(), name="job-worker")

    def wake(self) -> None:
        """A job was queued: claim now instead of at the next poll."""
        self._wake.set()

    async def aclose(self) -> None:
        """Stop claiming and cancel what runs: their leases run out and another worker (or
        this one after a restart) runs them again."""
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _loop(self) -> None:
        delay = self.settings.poll_s
        while True:
            free = self.settings.concurrency - len(self._running)
            jobs: list[JobRecord] = []
            if free > 0:
                try:
                    jobs = await anyio.to_thread.run_sync(self._claim, free)
                    delay = self.settings.poll_s
                except GatewayError as exc:
                    log.warning("job queue unavailable (%s); retrying in %.1f s", exc.code, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
            for job in jobs:
                task = asyncio.get_running_loop().create_task(self._run(job))
                self._running.add(task)
                task.add_done_callback(self._done)
            if jobs and len(jobs) == free:
                continue  # more may be due
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_s)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()  # a slot came free

    def _claim(self, limit: int) -> list[JobRecord]:
        return self.store.claim_jobs(worker=self.name, limit=limit, lease_s=self.settings.lease_s)

    def _backoff(self, job: JobRecord, at_least: float | None) -> float | None:
        if job.attempts >= self.settings.max_attempts:
            return None
        delay = min(self.settings.backoff_s * 2 ** (job.attempts - 1), self.settings.backoff_max_s)
        return float(max(delay, at_least or 0.0))

    async def _run(self, job: JobRecord) -> None:
        try:
            result = await self.runner.run(job)
        except asyncio.CancelledError:
            raise
        except Retry as exc:
            await self._settle_failure(job, f"waiting: {exc}", self._backoff(job, None))
            return
        except _TRANSIENT as exc:
            wait = exc.retry_after_s if isinstance(exc, HelpdeskUnavailableError) else None
            await self._settle_failure(job, f"{exc.code}: {exc.message}", self._backoff(job, wait))
            return
        except GatewayError as exc:
            await self._settle_failure(job, f"{exc.code}: {exc.message}", None)
            return
        except Exception as exc:  # a bug or an unexpected API answer: kept as failed, not lost
            # where, not the message: an unexpected error's text may quote the ticket
            log.error(
                "job %d failed unexpectedly: %s at %s", job.id, type(exc).__name__, _where(exc)
            )
            await self._settle_failure(job, f"internal_error: {type(exc).__name__}", None)
            return
        await self._settle(lambda: self.store.finish_job(job.id, worker=self.name, result=result))
        log.info("job %d (%s %s) done", job.id, job.kind, job.helpdesk)

    async def _settle_failure(self, job: JobRecord, error: str, retry_in: float | None) -> None:
        if retry_in is None:
            log.error("job %d (%s %s) failed: %s", job.id, job.kind, job.helpdesk, error)
        else:
            log.warning("job %d: %s; retrying in %.0f s", job.id, error, retry_in)
        await self._settle(
            lambda: self.store.fail_job(
                job.id, worker=self.name, error=error[:1000], retry_in_s=retry_in
            )
        )

    async def _settle(self, write: Callable[[], object]) -> None:
        """Record an outcome, retrying a store outage for a while; if the store stays down the
        lease runs out and the job runs again (a write-back is then repeated, never lost)."""
        delay = 0.2
        for _ in range(8):
            try:
                await anyio.to_thread.run_sync(write)
                return
            except StoreUnavailableError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        log.error("could not record a job's outcome: the store stayed unavailable")


def _where(exc: BaseException) -> str:
    """The innermost frames of an exception (file:line function), never its message."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " < ".join(f"{PurePath(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))

"""Webhooks into the job queue, together: the route's jobs are written by one task in batches,
one transaction (one commit) per batch on the store (on Redis: one round of enqueues).
Concurrent writers on SQLite otherwise wait on its busy handler, which is not fair: under a
burst a few webhooks waited seconds to be acknowledged (bench/webhooks.py); batched, each
waits for at most the batch in flight."""

from __future__ import annotations

import asyncio

from gateway.connectors.queues import JobQueues
from gateway.store import JobRecord, NewJob

_BATCH = 256


class JobIntake:
    def __init__(self, queues: JobQueues) -> None:
        self.queues = queues
        self._pending: list[tuple[NewJob, asyncio.Future[tuple[JobRecord, bool]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, job: NewJob) -> tuple[JobRecord, bool]:
        """The job as queued and whether this call queued it (False: a replay)."""
        future: asyncio.Future[tuple[JobRecord, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            try:
                results = await self.queues.enqueue_many([job for job, _ in batch])
            except Exception as exc:  # the store's error, to every webhook of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def aclose(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

"""Micro-batching: concurrent single-ticket requests are classified together.

The embedded model embeds 256 tickets in one call several times faster than 256 calls of one,
and Presidio's spaCy pass likewise; but a client sends one ticket a request. ``MicroBatcher``
runs the first request at once, alone, and gathers the requests that arrive while a batch is
running into the next batch. An idle server adds no delay; a busy one works in batches.

One batch runs at a time: right for a CPU-bound scorer on a few cores (two batches at once only
share the cores). A provider scorer waits on the network, so it is not batched this way (see
``Classifier``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from gateway.errors import GatewayError
from gateway.schemas import ClassifyRequest, ClassifyResponse

Outcome = ClassifyResponse | GatewayError
RunBatch = Callable[[Sequence[ClassifyRequest]], Awaitable[list[Outcome]]]


class MicroBatcher:
    """Coalesces concurrent ``submit`` calls into ``run`` calls of at most ``max_batch``.

    Bound to the event loop it is first used on (its futures belong to that loop).
    """

    def __init__(self, run: RunBatch, max_batch: int) -> None:
        self._run = run
        self._max_batch = max_batch
        self._queue: list[tuple[ClassifyRequest, float, asyncio.Future[Outcome]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, req: ClassifyRequest) -> ClassifyResponse:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((req, time.perf_counter(), future))
        if self._worker is None:
            # its own task: a caller that goes away (timeout, disconnect) must not take the
            # batch, and the other callers' tickets in it, down with it
            self._worker = asyncio.create_task(self._drain())
        outcome = await future
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                live = [item for item in batch if not item[2].done()]  # callers gone: skip
                if not live:
                    continue
                try:
                    outcomes = await self._run([req for req, _, _ in live])
                except Exception as exc:  # a bug: every caller in the batch hears of it
                    for _, _, future in live:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                now = time.perf_counter()
                for (_, queued, future), outcome in zip(live, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, ClassifyResponse):
                        # the ticket's own latency includes its wait for the batch
                        outcome.latency_ms = round((now - queued) * 1000, 2)
                    future.set_result(outcome)
        finally:
            self._worker = None

    @property
    def waiting(self) -> int:
        return len(self._queue)

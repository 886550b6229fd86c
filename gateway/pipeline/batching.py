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
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from gateway.errors import GatewayError
from gateway.schemas import ClassifyRequest, ClassifyResponse

Outcome = ClassifyResponse | GatewayError
RunBatch = Callable[[Sequence[ClassifyRequest]], Awaitable[list[Outcome]]]


class MicroBatcher:
    """Coalesces concurrent ``submit`` calls into ``run`` calls of at most ``max_batch``
    tickets and ``max_chars`` characters (at least one ticket: a long one runs alone).

    A caller that went away (its request timed out, the client left) before its batch
    started is skipped: its work is abandoned, not done for nobody.
    Bound to the event loop it is first used on (its futures belong to that loop).
    """

    def __init__(self, run: RunBatch, max_batch: int, max_chars: int | None = None) -> None:
        self._run = run
        self._max_batch = max_batch
        self._max_chars = max_chars
        self._queue: deque[tuple[ClassifyRequest, float, asyncio.Future[Outcome]]] = deque()
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

    def _next_batch(self) -> list[tuple[ClassifyRequest, float, asyncio.Future[Outcome]]]:
        batch: list[tuple[ClassifyRequest, float, asyncio.Future[Outcome]]] = []
        chars = 0
        while self._queue and len(batch) < self._max_batch:
            item = self._queue[0]
            if item[2].done():  # the caller is gone: abandon its ticket
                self._queue.popleft()
                continue
            size = len(item[0].text)
            if batch and self._max_chars is not None and chars + size > self._max_chars:
                break
            batch.append(self._queue.popleft())
            chars += size
        return batch

    async def _drain(self) -> None:
        try:
            while live := self._next_batch():
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


class Lanes:
    """Two micro-batchers: one for tickets up to ``heavy_chars`` characters, and a lane of
    one ticket at a time for longer ones. A long ticket then waits behind long tickets only,
    never in front of (or inside the batch of) the short ones that make up most traffic."""

    def __init__(self, run: RunBatch, max_batch: int, max_chars: int, heavy_chars: int) -> None:
        self.heavy_chars = heavy_chars
        self.normal = MicroBatcher(run, max_batch, max_chars)
        self.heavy = MicroBatcher(run, 1)

    async def submit(self, req: ClassifyRequest) -> ClassifyResponse:
        lane = self.heavy if len(req.text) > self.heavy_chars else self.normal
        return await lane.submit(req)

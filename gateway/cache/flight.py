"""Single-flight: identical keys being scored right now are awaited, not scored again."""

from __future__ import annotations

import asyncio

from gateway.scoring import ScoreResult


class SingleFlight:
    """Futures for keys being scored right now. Per process; its futures belong to the event
    loop of the classifier that owns it (one per server, CLI run or eval run)."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[ScoreResult]] = {}

    def join(self, key: str) -> asyncio.Future[ScoreResult] | None:
        return self._inflight.get(key)

    def lead(self, key: str) -> None:
        self._inflight[key] = asyncio.get_running_loop().create_future()

    def resolve(self, key: str, result: ScoreResult) -> None:
        fut = self._inflight.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(result)

    def fail(self, key: str, exc: BaseException) -> None:
        fut = self._inflight.pop(key, None)
        if fut is not None and not fut.done():
            if isinstance(exc, asyncio.CancelledError):
                # The leader was cancelled (timeout, disconnect): followers score for themselves.
                fut.cancel()
            else:
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: no "never retrieved" noise without followers

    def __len__(self) -> int:
        return len(self._inflight)

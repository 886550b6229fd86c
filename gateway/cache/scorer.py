"""Caching as a scorer: ``CachingScorer`` wraps any ``Scorer``, as the cascade and the local
fallback do, so the pipeline scores without knowing whether a cache exists.

Per ticket: the store first; then single-flight (a key already being scored is awaited, not
scored again); one inner call for the rest. Outage answers (``ScoreResult.fallback``) are
served but never stored: they must not outlive the outage. ``ScoreResult.origin`` says how each
answer arrived (``cache`` answers are the response's ``cached: true``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.cache.flight import SingleFlight
from gateway.cache.keys import CacheKey
from gateway.cache.observer import CacheObserver, NullCacheObserver
from gateway.cache.store import ResultStore
from gateway.errors import GatewayError
from gateway.rubrics import RubricSet
from gateway.scoring import ScoreOutcome, Scorer, ScoreResult, Wrapper
from gateway.slots import Slots


class CachingScorer(Wrapper):
    def __init__(
        self,
        inner: Scorer,
        store: ResultStore,
        flight: SingleFlight | None = None,
        observer: CacheObserver | None = None,
    ) -> None:
        super().__init__(inner)
        self.store = store
        self.flight = flight or SingleFlight()
        self.observer = observer or NullCacheObserver()

    def key(self, text: str, rubric: RubricSet, axes: Sequence[str]) -> str:
        # the inner scorer's own identity: an override variant never shares entries with the base
        return CacheKey(
            text=text,
            rubric=rubric.axis_fingerprint(tuple(axes)),
            prompt=self.inner.prompt,
            model=self.inner.model,
            scorer=f"{self.inner.name}:{self.inner.fingerprint}",
        ).digest()

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        keys = [self.key(text, rubric, axes) for text in texts]
        out: Slots[ScoreOutcome] = Slots(len(texts))
        todo: list[int] = []
        follow: list[tuple[int, asyncio.Future[ScoreResult]]] = []
        for i, key in enumerate(keys):
            hit = self.store.get(key)
            if hit is not None:
                out[i] = hit.model_copy(update={"origin": "cache"})
                continue
            joined = self.flight.join(key)  # a duplicate within this call joins its first copy
            if joined is not None:
                follow.append((i, joined))
                continue
            self.flight.lead(key)
            todo.append(i)
        if todo:
            await self._score([texts[i] for i in todo], rubric, axes, todo, keys, out)
        retry: list[int] = []
        for i, fut in follow:
            self.observer.joined()
            try:
                out[i] = (await asyncio.shield(fut)).model_copy(update={"origin": "joined"})
            except asyncio.CancelledError:
                if not fut.cancelled():
                    raise  # this request itself was cancelled
                retry.append(i)  # the leader was cancelled: score these for themselves
            except GatewayError as exc:
                out[i] = exc  # the same key failed for the leader: the same failure here
        if retry:
            # same rubric and axes as the rest of this call; cached like any other answer
            again = await self.score_many([texts[i] for i in retry], rubric, axes)
            for i, outcome in zip(retry, again, strict=True):
                out[i] = outcome
        return out.filled()

    async def _score(
        self,
        texts: list[str],
        rubric: RubricSet,
        axes: Sequence[str],
        indices: list[int],
        keys: list[str],
        out: Slots[ScoreOutcome],
    ) -> None:
        try:
            scored = await self.inner.score_many(texts, rubric, axes)
        except BaseException as exc:
            for i in indices:
                self.flight.fail(keys[i], exc)
            raise
        for i, outcome in zip(indices, scored, strict=True):
            out[i] = outcome
            if isinstance(outcome, GatewayError):
                self.flight.fail(keys[i], outcome)
                continue
            if not outcome.fallback:
                self.store.set(keys[i], outcome)
            self.flight.resolve(keys[i], outcome)

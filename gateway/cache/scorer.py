"""Caching as a scorer: ``CachingScorer`` wraps any ``Scorer``, as the cascade and the local
fallback do, so the pipeline scores without knowing whether a cache exists.

Per ticket: the store first; then single-flight (a key already being scored is awaited, not
scored again); one inner call for the rest. Outage answers (``ScoreResult.fallback``) are
served but never stored: they must not outlive the outage. ``ScoreResult.origin`` says how each
answer arrived (``cache`` answers are the response's ``cached: true``).

With ``shared`` (Redis, every replica's): answers are written there instead of the local
store and read there first (the local store after a shared miss: what was kept here during an
outage), and a key is scored by the replica that takes its flight lock; the others wait for
its answer (``joined``). Whenever ``shared`` cannot answer, the local store and this
process' own single-flight serve as they do on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from gateway.cache.flight import SingleFlight
from gateway.cache.keys import CacheKey
from gateway.cache.observer import CacheObserver, NullCacheObserver
from gateway.cache.shared import Claim, SharedResults
from gateway.cache.store import ResultStore
from gateway.errors import GatewayError, SharedStateUnavailableError
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
        shared: SharedResults | None = None,
    ) -> None:
        super().__init__(inner)
        self.store = store
        self.flight = flight or SingleFlight()
        self.observer = observer or NullCacheObserver()
        self.shared = shared
        self._releases: set[asyncio.Task[None]] = set()  # lock releases after a failure

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
        hits = await self._lookup(keys)
        for i, (key, hit) in enumerate(zip(keys, hits, strict=True)):
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
            await self._lead(texts, rubric, axes, todo, keys, out)
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

    async def _lookup(self, keys: list[str]) -> list[ScoreResult | None]:
        """The shared store's answers, and for its misses the local store's: what this
        replica kept while Redis was down or refused writes (full) is still an answer."""
        found: list[ScoreResult | None] = [None] * len(keys)
        if self.shared is not None:
            with contextlib.suppress(SharedStateUnavailableError):  # down: this replica's own
                found = await self.shared.get_many(keys)
        return [
            hit if hit is not None else self.store.get(key)
            for key, hit in zip(keys, found, strict=True)
        ]

    async def _lead(
        self,
        texts: Sequence[str],
        rubric: RubricSet,
        axes: Sequence[str],
        todo: list[int],
        keys: list[str],
        out: Slots[ScoreOutcome],
    ) -> None:
        """Scores the keys this call leads in this process: those no other replica is
        scoring, then, once their answers are kept, waits for the rest."""
        claim = Claim("")  # no locks: with no shared store, or Redis down, score them all
        elsewhere: list[int] = []
        try:
            if self.shared is not None:
                try:
                    claim = await self.shared.claim([keys[i] for i in todo])
                except SharedStateUnavailableError:
                    pass
                else:
                    mine = []
                    for i in todo:
                        answer = claim.answers.get(keys[i])
                        if answer is not None:  # answered elsewhere since the lookup
                            out[i] = answer.model_copy(update={"origin": "cache"})
                            self.flight.resolve(keys[i], answer)
                        elif keys[i] in claim.led:
                            mine.append(i)
                        else:
                            elsewhere.append(i)
                    todo = mine
            kept = await self._score(texts, rubric, axes, todo, keys, out) if todo else []
            await self._keep(kept, claim)
            if elsewhere:
                await self._wait(texts, rubric, axes, elsewhere, keys, out)
        except BaseException as exc:
            for i in (*todo, *elsewhere):
                self.flight.fail(keys[i], exc)  # no-op for keys already answered
            self._release_later(claim)
            raise

    async def _wait(
        self,
        texts: Sequence[str],
        rubric: RubricSet,
        axes: Sequence[str],
        indices: list[int],
        keys: list[str],
        out: Slots[ScoreOutcome],
    ) -> None:
        """Another replica holds these keys' locks: its answers, or score them here."""
        assert self.shared is not None
        try:
            answers = await self.shared.wait_many([keys[i] for i in indices])
        except SharedStateUnavailableError:
            answers = {}
        rest: list[int] = []
        for i in indices:
            answer = answers.get(keys[i])
            if answer is None:
                rest.append(i)  # the lock expired, or its leader had no answer to keep
                continue
            self.observer.joined()
            out[i] = answer.model_copy(update={"origin": "joined"})
            self.flight.resolve(keys[i], answer)
        if rest:
            await self._keep(await self._score(texts, rubric, axes, rest, keys, out), Claim(""))

    async def _score(
        self,
        texts: Sequence[str],
        rubric: RubricSet,
        axes: Sequence[str],
        indices: list[int],
        keys: list[str],
        out: Slots[ScoreOutcome],
    ) -> list[tuple[str, ScoreResult]]:
        """One inner call; resolves this process' followers; returns the answers to keep."""
        try:
            scored = await self.inner.score_many([texts[i] for i in indices], rubric, axes)
        except BaseException as exc:
            for i in indices:
                self.flight.fail(keys[i], exc)
            raise
        kept: list[tuple[str, ScoreResult]] = []
        for i, outcome in zip(indices, scored, strict=True):
            out[i] = outcome
            if isinstance(outcome, GatewayError):
                self.flight.fail(keys[i], outcome)
                continue
            if not outcome.fallback:
                kept.append((keys[i], outcome))
            self.flight.resolve(keys[i], outcome)
        return kept

    async def _keep(self, answers: list[tuple[str, ScoreResult]], claim: Claim) -> None:
        """Stores answers (shared, else local) and releases the claim's locks."""
        if self.shared is not None:
            try:
                await self.shared.finish(answers, claim)
                return
            except SharedStateUnavailableError:
                pass  # kept here instead; the locks expire by themselves
        for key, value in answers:
            self.store.set(key, value)

    def _release_later(self, claim: Claim) -> None:
        """After a failure or a cancellation: free the locks now, not at their expiry, without
        holding up the error (a cancelled task must not await the network)."""
        if self.shared is None or not claim.led:
            return
        shared = self.shared

        async def release() -> None:
            with contextlib.suppress(SharedStateUnavailableError):  # else they expire
                await shared.finish([], claim)

        task = asyncio.get_running_loop().create_task(release())
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

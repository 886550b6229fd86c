"""The ``cascade`` scorer and the local fallback on provider outages.

``CascadeScorer(first, second)``: the first (embedded) scorer answers every ticket; only tickets
whose primary-axis confidence (the top score) is under that axis' ``review`` threshold go to the
second (LLM) scorer. Each ``ScoreResult.scorer`` says which one decided. Counters record the
share of tickets that reached the second scorer, for metrics and benchmarks.

Provider outage (``ProviderUnavailableError``) with ``fallback_to_local``: the local answer is
returned with ``scorer == LOCAL_FALLBACK``; the decision layer must turn that into ``review``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from pydantic import BaseModel, computed_field

from gateway.errors import ProviderUnavailableError
from gateway.rubrics import RubricSet
from gateway.scoring.base import Scorer, ScoreResult
from gateway.scoring.llm import Checkable, config_fingerprint, resolve_axes

log = logging.getLogger(__name__)

LOCAL_FALLBACK = "local-fallback"


class CascadeStats(BaseModel):
    tickets: int = 0
    reached_second: int = 0
    local_fallbacks: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share_second(self) -> float:
        return self.reached_second / self.tickets if self.tickets else 0.0


def confidence(result: ScoreResult, axis: str) -> float:
    """Top score on ``axis``; a result without the axis counts as no confidence at all."""
    scores = result.axes.get(axis)
    return max(scores.scores.values(), default=0.0) if scores else 0.0


def as_local_fallback(result: ScoreResult) -> ScoreResult:
    return result.model_copy(update={"scorer": LOCAL_FALLBACK})


class CascadeScorer:
    def __init__(
        self,
        first: Scorer,
        second: Scorer,
        *,
        fallback_to_local: bool = False,
        on_local_fallback: Callable[[int], None] | None = None,
    ) -> None:
        self.first = first
        self.second = second
        self.fallback_to_local = fallback_to_local
        self.on_local_fallback = on_local_fallback  # metrics hook: tickets answered locally
        self.stats = CascadeStats()

    @property
    def name(self) -> str:
        return "cascade"

    @property
    def model(self) -> str:
        return self.second.model

    @property
    def prompt(self) -> str | None:
        return self.second.prompt

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(
            {
                "first": [self.first.name, self.first.model, self.first.fingerprint],
                "second": [self.second.name, self.second.model, self.second.fingerprint],
                "gate": "primary-axis top score < review threshold",
            }
        )

    async def check(self) -> None:
        for scorer in (self.first, self.second):
            if isinstance(scorer, Checkable):
                await scorer.check()

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        chosen = resolve_axes(rubric, axes)
        results = await self.first.score_many(texts, rubric, chosen)
        # The gate is the rubric's primary axis; a request that leaves it out is gated on the
        # first axis it asked for (the cascade must not pay for an axis nobody asked about).
        axis = rubric.primary_axis if rubric.primary_axis in chosen else chosen[0]
        review = rubric.thresholds_for(axis).review
        unsure = [i for i, result in enumerate(results) if confidence(result, axis) < review]
        self.stats.tickets += len(texts)
        self.stats.reached_second += len(unsure)
        if not unsure:
            return results
        try:
            second = await self.second.score_many([texts[i] for i in unsure], rubric, chosen)
        except ProviderUnavailableError:
            if not self.fallback_to_local:
                raise
            log.warning("provider unavailable: %d ticket(s) answered locally", len(unsure))
            self.stats.local_fallbacks += len(unsure)
            if self.on_local_fallback is not None:
                self.on_local_fallback(len(unsure))
            second = [as_local_fallback(results[i]) for i in unsure]
        for i, result in zip(unsure, second, strict=True):
            results[i] = result
        return results


class LocalFallbackScorer:
    """``primary`` (llm/logprob) with the local answer, marked ``local-fallback``, on outages."""

    def __init__(
        self,
        primary: Scorer,
        local: Scorer,
        *,
        on_local_fallback: Callable[[int], None] | None = None,
    ) -> None:
        self.primary = primary
        self.local = local
        self.on_local_fallback = on_local_fallback
        self.local_fallbacks = 0

    @property
    def name(self) -> str:
        return self.primary.name

    @property
    def model(self) -> str:
        return self.primary.model

    @property
    def prompt(self) -> str | None:
        return self.primary.prompt

    @property
    def fingerprint(self) -> str:
        # local-fallback answers are marked in ScoreResult.scorer, not here: the cache must not
        # keep them (see the module docstring)
        return self.primary.fingerprint

    async def check(self) -> None:
        if isinstance(self.primary, Checkable):
            await self.primary.check()

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        try:
            return await self.primary.score_many(texts, rubric, axes)
        except ProviderUnavailableError:
            log.warning("provider unavailable: %d ticket(s) answered locally", len(texts))
            self.local_fallbacks += len(texts)
            if self.on_local_fallback is not None:
                self.on_local_fallback(len(texts))
            local = await self.local.score_many(texts, rubric, axes)
            return [as_local_fallback(result) for result in local]

"""The ``cascade`` scorer: the embedded model first, the LLM only where it is unsure.

``CascadeScorer(first, second)``: the first (embedded) scorer answers every ticket; only tickets
whose primary-axis confidence (the top score) is under that axis' ``review`` threshold go to the
second (LLM) scorer. Each ``ScoreResult.scorer`` says which one decided. Counters record the
share of tickets that reached the second scorer, for metrics and benchmarks.

With ``fallback_to_local``, a ticket the provider could not answer keeps the first scorer's
answer, marked as a fallback (``scoring.fallback``). With ``local_weight``, the second scorer's
answer is mixed with the first one's (``scoring.blend``): the first answer is at hand already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from pydantic import BaseModel, computed_field

from gateway.errors import ProviderUnavailableError
from gateway.providers import Prompt
from gateway.rubrics import RubricSet
from gateway.scoring.base import Checkable, ScoreOutcome, Scorer, ScoreResult, config_fingerprint
from gateway.scoring.blend import mixed
from gateway.scoring.fallback import as_local_fallback, outcomes_of, variant_of

log = logging.getLogger(__name__)


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


class CascadeScorer:
    def __init__(
        self,
        first: Scorer,
        second: Scorer,
        *,
        fallback_to_local: bool = False,
        on_local_fallback: Callable[[int], None] | None = None,
        local_weight: float = 0.0,
    ) -> None:
        if not 0.0 <= local_weight < 1.0:
            raise ValueError(f"local_weight must be in [0, 1), not {local_weight}")
        self.first = first
        self.second = second
        self.fallback_to_local = fallback_to_local
        self.local_weight = local_weight
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
        config: dict[str, object] = {
            "first": [self.first.name, self.first.model, self.first.fingerprint],
            "second": [self.second.name, self.second.model, self.second.fingerprint],
            "gate": "primary-axis top score < review threshold",
        }
        if self.local_weight:  # only when set: unmixed cascades keep their cached answers
            config["local_weight"] = self.local_weight
        return config_fingerprint(config)

    @property
    def batches(self) -> bool:
        return False  # the second pass waits on a provider

    async def check(self) -> None:
        for scorer in (self.first, self.second):
            if isinstance(scorer, Checkable):
                await scorer.check()

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> CascadeScorer:
        """The same gate in front of a variant of the second scorer; stats are shared."""
        variant = CascadeScorer(
            self.first,
            variant_of(self.second, model, prompt),
            fallback_to_local=self.fallback_to_local,
            on_local_fallback=self.on_local_fallback,
            local_weight=self.local_weight,
        )
        variant.stats = self.stats
        return variant

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        chosen = rubric.select_axes(list(axes) or None)
        results = list(await self.first.score_many(texts, rubric, chosen))
        # The gate is the rubric's primary axis; a request that leaves it out is gated on the
        # first axis it asked for (the cascade must not pay for an axis nobody asked about).
        axis = rubric.primary_axis if rubric.primary_axis in chosen else chosen[0]
        review = rubric.thresholds_for(axis).review
        local = {
            i: result
            for i, result in enumerate(results)
            if isinstance(result, ScoreResult) and confidence(result, axis) < review
        }
        unsure = list(local)
        self.stats.tickets += len(texts)
        self.stats.reached_second += len(unsure)
        if not unsure:
            return results
        if self.fallback_to_local:
            second = await outcomes_of(self.second, [texts[i] for i in unsure], rubric, chosen)
        else:
            second = list(await self.second.score_many([texts[i] for i in unsure], rubric, chosen))
        down = 0
        for i, outcome in zip(unsure, second, strict=True):
            if isinstance(outcome, ProviderUnavailableError) and self.fallback_to_local:
                down += 1
                outcome = as_local_fallback(local[i])
            elif isinstance(outcome, ScoreResult):
                outcome = mixed(outcome, local[i], self.local_weight)
            results[i] = outcome
        if down:
            log.warning("provider unavailable: %d ticket(s) answered locally", down)
            self.stats.local_fallbacks += down
            if self.on_local_fallback is not None:
                self.on_local_fallback(down)
        return results

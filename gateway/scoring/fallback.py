"""The local fallback on provider outages, as a wrapper of any provider scorer.

``LocalFallbackScorer(primary, local)``: tickets the provider could not answer
(``ProviderUnavailableError``, for the whole call or for one ticket) are answered by the embedded
model, marked ``fallback`` (their ``scorer`` named ``LOCAL_FALLBACK``). The decision layer never
auto-routes such an answer and the cache never keeps it. Other per-ticket errors stay in their
slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from gateway.errors import InvalidRequestError, ProviderUnavailableError
from gateway.providers import Prompt
from gateway.rubrics import RubricSet
from gateway.scoring.base import (
    LOCAL_FALLBACK,
    Checkable,
    Overridable,
    ScoreOutcome,
    Scorer,
    ScoreResult,
    Wrapper,
)

log = logging.getLogger(__name__)


def as_local_fallback(result: ScoreResult) -> ScoreResult:
    return result.model_copy(update={"scorer": LOCAL_FALLBACK, "fallback": True})


async def outcomes_of(
    scorer: Scorer, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
) -> list[ScoreOutcome]:
    """``scorer.score_many``, with an outage of the whole call spread over its tickets so that
    whole-call and per-ticket outages take the same fallback path."""
    try:
        return list(await scorer.score_many(texts, rubric, axes))
    except ProviderUnavailableError as exc:
        return [exc] * len(texts)


def variant_of(scorer: Scorer, model: str | None, prompt: Prompt | None) -> Scorer:
    if not isinstance(scorer, Overridable):
        raise InvalidRequestError(f"the {scorer.name} scorer takes no model/prompt overrides")
    return scorer.variant(model=model, prompt=prompt)


class LocalFallbackScorer(Wrapper):
    """``primary`` (llm/logprob) with the local answer, marked ``local-fallback``, on outages.

    Answers as ``primary`` (name, model, prompt, fingerprint): local-fallback answers are marked
    in ``ScoreResult.fallback``, not in the fingerprint, so the cache can refuse them.
    """

    def __init__(
        self,
        primary: Scorer,
        local: Scorer,
        *,
        on_local_fallback: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(primary)
        self.primary = primary
        self.local = local
        self.on_local_fallback = on_local_fallback
        self.local_fallbacks = 0

    async def check(self) -> None:
        if isinstance(self.primary, Checkable):
            await self.primary.check()

    def variant(
        self, *, model: str | None = None, prompt: Prompt | None = None
    ) -> LocalFallbackScorer:
        return LocalFallbackScorer(
            variant_of(self.primary, model, prompt),
            self.local,
            on_local_fallback=self.on_local_fallback,
        )

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        outcomes = await outcomes_of(self.primary, texts, rubric, axes)
        down = [i for i, o in enumerate(outcomes) if isinstance(o, ProviderUnavailableError)]
        if not down:
            return outcomes
        log.warning("provider unavailable: %d ticket(s) answered locally", len(down))
        self.local_fallbacks += len(down)
        if self.on_local_fallback is not None:
            self.on_local_fallback(len(down))
        # only the tickets the provider could not answer, in one batched local call
        local = await self.local.score_many([texts[i] for i in down], rubric, axes)
        for i, result in zip(down, local, strict=True):
            outcomes[i] = as_local_fallback(result) if isinstance(result, ScoreResult) else result
        return outcomes

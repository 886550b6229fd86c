"""An LLM's distribution mixed with the embedded model's (``GATEWAY_LLM_LOCAL_WEIGHT``).

A small LLM is often sure and wrong: on the real-model run of issue 17, 6 of the llm scorer's 16
wrong answers came at a confidence of 0.996 or more, which no temperature can undo without
flattening every right answer too. Where the embedded model disagrees, it is usually unsure
itself, so a linear mixture (a two-member ensemble)

    scores = (1 - w) * llm + w * local

lowers the confidence of exactly those answers, and where the two agree it keeps it. ``raw``
(each label's own P(yes)) is mixed the same way, so a fitted none_fits floor sees the same
blend. The result stays the LLM's answer (its scorer, model, prompt, usage), marked with
``local_weight``; the calibration key carries the weight, so a temperature fitted for one weight
is never applied to another.

``mixed`` is what the cascade applies to the tickets it sends to the LLM (it has the local answer
already); ``BlendScorer`` wraps the ``llm`` or ``logprob`` scorer, asking the embedded model
alongside it. A ticket in a language the embedded model does not read is answered by the LLM
alone (``unmixed``, used by ``pipeline.language``), as a cascade's LLM answers it alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from gateway.providers import Prompt
from gateway.rubrics import RubricSet
from gateway.scoring.base import (
    AxisScores,
    Checkable,
    ScoreOutcome,
    Scorer,
    ScoreResult,
    Wrapper,
    config_fingerprint,
)
from gateway.scoring.distribution import top_label
from gateway.scoring.fallback import LocalFallbackScorer, variant_of


def _mix(theirs: Mapping[str, float], ours: Mapping[str, float], weight: float) -> dict[str, float]:
    return {name: (1.0 - weight) * p + weight * ours.get(name, 0.0) for name, p in theirs.items()}


def mixed(llm: ScoreResult, local: ScoreResult, weight: float) -> ScoreResult:
    """``llm`` with each axis' ``scores`` and ``raw`` mixed with ``local``'s at ``weight``.

    An axis the embedded model did not answer over the same labels is left as the LLM gave it.
    The evidence is the LLM's rationale while its label is still the top one, else the embedded
    model's where its label won, else none (nothing then supports the mixed answer alone).
    """
    if weight <= 0.0:
        return llm
    axes: dict[str, AxisScores] = {}
    for axis, theirs in llm.axes.items():
        ours = local.axes.get(axis)
        if ours is None or set(ours.scores) != set(theirs.scores):
            axes[axis] = theirs
            continue
        scores = _mix(theirs.scores, ours.scores, weight)
        won = top_label(scores)
        evidence = next(
            (e for e in (theirs.evidence, ours.evidence) if e is not None and e.label == won),
            None,
        )
        axes[axis] = AxisScores(
            raw=_mix(theirs.raw, ours.raw, weight), scores=scores, evidence=evidence
        )
    return llm.model_copy(
        update={"axes": axes, "local_weight": weight, "reading": llm.reading or local.reading}
    )


class BlendScorer(Wrapper):
    """``primary`` (llm or logprob) with the embedded model asked alongside, answers mixed.

    Answers as ``primary`` (name, model, prompt), with a fingerprint that adds the embedded model
    and the weight. Per-ticket errors of ``primary`` stay in their slot (the local fallback, which
    wraps this, answers outages); the embedded model is asked for every ticket at once.
    """

    def __init__(self, primary: Scorer, local: Scorer, weight: float) -> None:
        if not 0.0 < weight < 1.0:
            raise ValueError(f"local_weight must be in (0, 1), not {weight}")
        super().__init__(primary)
        self.primary = primary
        self.local = local
        self.weight = weight

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(
            {
                "primary": self.primary.fingerprint,
                "local": [self.local.name, self.local.model, self.local.fingerprint],
                "local_weight": self.weight,
            }
        )

    async def check(self) -> None:
        if isinstance(self.primary, Checkable):
            await self.primary.check()

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> BlendScorer:
        return BlendScorer(variant_of(self.primary, model, prompt), self.local, self.weight)

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        # both at once: the embedded model's milliseconds hide behind the provider call; an
        # outage of the whole call stops it (the fallback asks the embedded model again)
        local = asyncio.ensure_future(self.local.score_many(texts, rubric, axes))
        try:
            theirs = await self.primary.score_many(texts, rubric, axes)
        except BaseException:
            local.cancel()
            raise
        ours = await local
        return [
            mixed(llm, local, self.weight)
            if isinstance(llm, ScoreResult) and isinstance(local, ScoreResult)
            else llm
            for llm, local in zip(theirs, ours, strict=True)
        ]


def unmixed(scorer: Scorer) -> Scorer | None:
    """``scorer`` without the embedded model mixed in, for tickets that model cannot read (it
    reads English only: ``pipeline.language``); None when ``scorer`` mixes nothing in."""
    if isinstance(scorer, BlendScorer):
        return scorer.primary
    if isinstance(scorer, LocalFallbackScorer) and isinstance(scorer.primary, BlendScorer):
        return LocalFallbackScorer(
            scorer.primary.primary, scorer.local, on_local_fallback=scorer.on_local_fallback
        )
    return None

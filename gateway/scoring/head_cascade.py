"""The promoted head first, another scorer where it is unsure.

``HeadCascade(head, inner)``: the head scores every ticket on its axis; a ticket whose top
probability reaches the head's own ``auto_route`` threshold (fitted on its cross-validated
predictions, so that those tickets are right ``target_precision`` of the time) is answered by
the head, the others go to ``inner`` (the scorer the rubric was served by before promotion) in
one call. A head answers one axis: when the request asks for others too, ``inner`` answers them
for every ticket, in the same call. A rubric the head was not trained for (edited since) goes to
``inner`` whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
import numpy as np
from pydantic import BaseModel, computed_field

from gateway.rubrics import RubricSet
from gateway.scoring.base import Checkable, ScoreOutcome, Scorer, ScoreResult, config_fingerprint
from gateway.scoring.head import HeadScorer
from gateway.slots import Slots


class HeadCascadeStats(BaseModel):
    tickets: int = 0
    answered_by_head: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share_head(self) -> float:
        return self.answered_by_head / self.tickets if self.tickets else 0.0


class HeadCascade:
    def __init__(self, head: HeadScorer, inner: Scorer) -> None:
        self.head = head
        self.inner = inner
        self.stats = HeadCascadeStats()

    @property
    def name(self) -> str:
        return f"{self.head.name}+{self.inner.name}"

    @property
    def model(self) -> str:
        return f"{self.head.model}+{self.inner.model}"

    @property
    def prompt(self) -> str | None:
        return self.inner.prompt

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(
            {
                "head": [self.head.name, self.head.model, self.head.fingerprint],
                "inner": [self.inner.name, self.inner.model, self.inner.fingerprint],
                "gate": "head-axis top probability >= head auto_route",
            }
        )

    @property
    def batches(self) -> bool:
        # the head costs one batched matrix product; whether a batch pays is the inner's call
        return self.inner.batches

    async def check(self) -> None:
        if isinstance(self.inner, Checkable):
            await self.inner.check()

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        chosen = rubric.select_axes(list(axes) or None)
        axis = self.head.axis
        self.stats.tickets += len(texts)
        if not texts or axis not in chosen or not self.head.serves(rubric):
            return list(await self.inner.score_many(texts, rubric, chosen))
        proba = await anyio.to_thread.run_sync(self.head.proba, texts)
        auto_route = self.head.meta.thresholds.auto_route
        sure = proba.max(axis=1) >= auto_route
        others = [a for a in chosen if a != axis]
        # unsure tickets need every axis from inner; sure ones only the other axes, if any
        asked = list(range(len(texts))) if others else np.flatnonzero(~sure).tolist()
        results: Slots[ScoreOutcome] = Slots(len(texts))
        from_inner: dict[int, ScoreOutcome] = {}
        if asked:
            inner = await self.inner.score_many([texts[i] for i in asked], rubric, chosen)
            from_inner = dict(zip(asked, inner, strict=True))
        answered = 0
        for i in range(len(texts)):
            outcome = from_inner.get(i)
            if not sure[i]:
                if outcome is not None:
                    results[i] = outcome
                continue
            mine = self.head.result(proba[i], rubric)
            if outcome is None:
                results[i] = mine
            elif isinstance(outcome, ScoreResult):
                results[i] = _merged(mine, outcome, axis, chosen)
            else:
                results[i] = outcome  # inner failed on this ticket's other axes: its error
                continue
            answered += 1
        self.stats.answered_by_head += answered
        return results.filled()


def _merged(mine: ScoreResult, inner: ScoreResult, axis: str, chosen: Sequence[str]) -> ScoreResult:
    """The head's axis from the head, the others from inner (its usage, prompt and fallback
    mark kept: a fallback answer on any axis is never auto-routed or cached)."""
    axes = {a: mine.axes[a] if a == axis else inner.axes[a] for a in chosen if a in inner.axes}
    axes.setdefault(axis, mine.axes[axis])
    return inner.model_copy(
        update={
            "axes": {a: axes[a] for a in chosen if a in axes},
            "scorer": mine.scorer,
            "model": mine.model,
            "thresholds": {**inner.thresholds, axis: mine.thresholds[axis]},
        }
    )

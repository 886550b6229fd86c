"""Scorers for tests: real ones, observed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from gateway.rubrics import RubricSet
from gateway.scoring import AxisScores, ScoreOutcome, Scorer, ScoreResult, Wrapper


class Counting(Wrapper):
    """A real scorer, optionally slowed down (so concurrent requests overlap), recording the
    size of each call it gets."""

    def __init__(self, inner: Scorer, delay_s: float = 0.0) -> None:
        super().__init__(inner)
        self.delay_s = delay_s
        self.sizes: list[int] = []

    @property
    def calls(self) -> int:
        return len(self.sizes)

    @property
    def texts(self) -> int:
        return sum(self.sizes)

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> Sequence[ScoreOutcome]:
        self.sizes.append(len(texts))
        await asyncio.sleep(self.delay_s)
        return await self.inner.score_many(texts, rubric, axes)


class Scripted:
    """A fake scorer (``local``, never batching) that answers each text with ``answer(text)``:
    its axis scores (the same on every axis asked) and whether it is an outage answer."""

    name, prompt, batches = "local", None, False

    def __init__(
        self, answer: Callable[[str], tuple[AxisScores, bool]], model: str = "fake/scripted"
    ) -> None:
        self.answer = answer
        self.model = model
        self.fingerprint = model

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        out: list[ScoreOutcome] = []
        for text in texts:
            scores, fallback = self.answer(text)
            axis_scores = {axis: scores for axis in axes}
            out.append(
                ScoreResult(axes=axis_scores, scorer=self.name, model=self.model, fallback=fallback)
            )
        return out

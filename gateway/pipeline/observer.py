"""Where pipeline events go (metrics). Nothing here carries request content."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from gateway.rubrics import RubricSet
from gateway.scoring import ScoreOutcome, Scorer, Wrapper


class PipelineObserver(Protocol):
    def stage(self, name: str) -> AbstractContextManager[object]:
        """Times one stage (``redact``, ``score``) of one batch."""
        ...

    def scored(self, scorer: str) -> None:
        """One ticket scored now (not from the cache, not joined), by the scorer that decided:
        the cascade's local/llm share."""
        ...


class NullPipelineObserver:
    def stage(self, name: str) -> AbstractContextManager[object]:
        return nullcontext()

    def scored(self, scorer: str) -> None:
        return None


class TimedScorer(Wrapper):
    """Times each call of the scorer it wraps as the ``score`` stage. Inside the result cache,
    so the stage times scoring only, not cache hits."""

    def __init__(self, inner: Scorer, observer: PipelineObserver) -> None:
        super().__init__(inner)
        self.observer = observer

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> Sequence[ScoreOutcome]:
        with self.observer.stage("score"):
            return await self.inner.score_many(texts, rubric, axes)

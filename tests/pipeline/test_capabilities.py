"""Facts on objects, not strings: a scorer's ``batches`` flag decides micro-batching, and
``ScoreResult.fallback`` decides the downgrade and the cache."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.settings import make_settings

from gateway.config import Settings
from gateway.pipeline import build_classifier
from gateway.redaction import PassThroughRedactor
from gateway.rubrics import RubricSet
from gateway.schemas import ClassifyRequest
from gateway.scoring import (
    AxisScores,
    CascadeScorer,
    LocalFallbackScorer,
    LocalScorer,
    ScoreOutcome,
    ScoreResult,
)

RUBRICS = Path(__file__).resolve().parents[2] / "rubrics"


class Fake:
    """Answers 'billing' for everything after a short wait; records each call's size."""

    name, model, prompt, fingerprint = "local", "fake/m", None, "f"

    def __init__(self, *, batches: bool, fallback: bool = False) -> None:
        self.batches = batches
        self.fallback = fallback
        self.sizes: list[int] = []

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.sizes.append(len(texts))
        await asyncio.sleep(0.05)
        scores = {label.name: 0.0 for label in rubric.axes[axes[0]].labels}
        scores["billing"] = 1.0
        return [
            ScoreResult(
                axes={a: AxisScores(raw=dict(scores), scores=dict(scores)) for a in axes},
                scorer=self.name,
                model=self.model,
                fallback=self.fallback,
            )
            for _ in texts
        ]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        rubrics={"dir": RUBRICS}, cache={"dir": tmp_path / "cache"}, local={"micro_batch": 64}
    )


async def _classify_concurrently(settings: Settings, scorer: Fake, n: int = 8) -> list[object]:
    classifier = build_classifier(settings, redactor=PassThroughRedactor(), scorer=scorer)
    try:
        reqs = [
            ClassifyRequest(text=f"charged twice, order {i}", rubric="support") for i in range(n)
        ]
        return list(await asyncio.gather(*(classifier.classify(r) for r in reqs)))
    finally:
        classifier.close()


async def test_a_batching_scorer_gets_concurrent_requests_in_batches(settings: Settings) -> None:
    scorer = Fake(batches=True)
    await _classify_concurrently(settings, scorer)
    assert sum(scorer.sizes) == 8
    assert len(scorer.sizes) < 8  # the first alone, the rest together


async def test_a_network_scorer_gets_each_request_as_it_comes(settings: Settings) -> None:
    scorer = Fake(batches=False)
    await _classify_concurrently(settings, scorer)
    assert scorer.sizes == [1] * 8


async def test_a_fallback_answer_is_never_auto_routed_nor_cached(settings: Settings) -> None:
    scorer = Fake(batches=False, fallback=True)
    (first,) = await _classify_concurrently(settings, scorer, n=1)
    again = await _classify_concurrently(settings, scorer, n=1)
    for resp in (first, *again):
        assert resp.fallback is True  # type: ignore[attr-defined]
        assert resp.decision != "auto_route"  # type: ignore[attr-defined]
        assert resp.cached is False  # type: ignore[attr-defined]
    assert scorer.sizes == [1, 1]


def test_the_flags_of_the_built_in_scorers(local_scorer: LocalScorer) -> None:
    assert local_scorer.batches is True
    remote = Fake(batches=False)
    assert CascadeScorer(local_scorer, remote).batches is False  # type: ignore[arg-type]
    assert LocalFallbackScorer(remote, local_scorer).batches is False  # type: ignore[arg-type]

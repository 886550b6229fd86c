"""CachingScorer: the cache as a wrapper of the Scorer protocol, over a real diskcache store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.rubrics import rubric_of

from gateway.cache import CachingScorer, NullStore, ResultCache
from gateway.errors import GatewayError, ProviderError
from gateway.rubrics import RubricSet
from gateway.scoring import AxisScores, ScoreOutcome, ScoreResult


def rubric() -> RubricSet:
    labels = {"billing": "Is it billing?", "bug": "A bug?"}
    return rubric_of({"category": labels, "tone": labels}, name="r")


class Recording:
    """A scorer that records each call; ``gate`` holds calls until set; texts starting with
    ``fail`` are that ticket's error; ``fallback=True`` marks every answer an outage answer."""

    name, model, prompt, fingerprint, batches = "fake", "fake/m", None, "f0", True

    def __init__(self, *, fallback: bool = False) -> None:
        self.calls: list[tuple[list[str], str, tuple[str, ...]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fallback = fallback

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.calls.append((list(texts), rubric.name, tuple(axes)))
        await self.gate.wait()
        return [
            ProviderError("refused")
            if text.startswith("fail")
            else ScoreResult(
                axes={a: AxisScores(raw={"billing": 0.9}, scores={"billing": 1.0}) for a in axes},
                scorer="fake",
                model="fake/m",
                fallback=self.fallback,
            )
            for text in texts
        ]


async def leader_and_follower(
    scorer: CachingScorer, texts: list[str], axes: tuple[str, ...] = ("tone",)
) -> tuple[asyncio.Task[list[ScoreOutcome]], asyncio.Task[list[ScoreOutcome]]]:
    """Two identical calls, the second started while the first is scoring."""
    leader = asyncio.create_task(scorer.score_many(texts, rubric(), axes))
    await asyncio.sleep(0)
    follower = asyncio.create_task(scorer.score_many(texts, rubric(), axes))
    await asyncio.sleep(0)
    return leader, follower


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultCache]:
    cache = ResultCache(tmp_path / "cache", None, 1 << 24)
    yield cache
    cache.close()


async def test_miss_scores_and_stores_then_hits(store: ResultCache) -> None:
    inner = Recording()
    scorer = CachingScorer(inner, store)
    (first,) = await scorer.score_many(["t"], rubric(), ["category"])
    (second,) = await scorer.score_many(["t"], rubric(), ["category"])
    assert isinstance(first, ScoreResult) and isinstance(second, ScoreResult)
    assert (first.origin, second.origin) == ("scored", "cache")
    assert len(inner.calls) == 1
    assert second.axes == first.axes
    assert "origin" not in second.model_dump()  # a fact about one delivery, never stored
    # another axis set is another key
    await scorer.score_many(["t"], rubric(), ["tone"])
    assert len(inner.calls) == 2


async def test_outage_answers_and_errors_are_served_but_never_stored(
    store: ResultCache,
) -> None:
    inner = Recording(fallback=True)
    scorer = CachingScorer(inner, store)
    for _ in range(2):
        out = await scorer.score_many(["t", "fail-1"], rubric(), ["category"])
        assert isinstance(out[0], ScoreResult) and out[0].fallback
        assert isinstance(out[1], GatewayError)
    assert len(inner.calls) == 2  # nothing came from the cache
    assert store.stats().entries == 0


async def test_duplicates_in_one_call_are_scored_once(store: ResultCache) -> None:
    inner = Recording()
    scorer = CachingScorer(inner, store)
    out = await scorer.score_many(["t", "u", "t"], rubric(), ["category"])
    assert inner.calls == [(["t", "u"], "r", ("category",))]
    assert [o.origin for o in out if isinstance(o, ScoreResult)] == ["scored", "scored", "joined"]


async def test_followers_share_the_leaders_answer_or_its_failure() -> None:
    inner = Recording()
    inner.gate.clear()
    scorer = CachingScorer(inner, NullStore())
    leader, follower = await leader_and_follower(scorer, ["t", "fail-1"])
    inner.gate.set()
    led, followed = await asyncio.gather(leader, follower)
    assert len(inner.calls) == 1
    assert isinstance(followed[0], ScoreResult) and followed[0].origin == "joined"
    assert isinstance(followed[1], ProviderError) and followed[1] is led[1]
    assert len(scorer.flight) == 0


async def test_a_cancelled_leader_leaves_followers_to_score_and_cache_for_themselves(
    store: ResultCache,
) -> None:
    inner = Recording()
    inner.gate.clear()
    scorer = CachingScorer(inner, store)
    leader, follower = await leader_and_follower(scorer, ["t"])
    leader.cancel()
    await asyncio.sleep(0)
    inner.gate.set()
    (rescored,) = await follower
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert isinstance(rescored, ScoreResult) and rescored.origin == "scored"
    # the rescoring ran with the follower's own rubric and axes, and was cached
    assert inner.calls[-1] == (["t"], "r", ("tone",))
    assert store.stats().entries == 1
    (hit,) = await scorer.score_many(["t"], rubric(), ["tone"])
    assert isinstance(hit, ScoreResult) and hit.origin == "cache"


async def test_a_follower_cancelled_itself_is_not_rescored(store: ResultCache) -> None:
    inner = Recording()
    inner.gate.clear()
    scorer = CachingScorer(inner, store)
    leader, follower = await leader_and_follower(scorer, ["t"])
    follower.cancel()
    inner.gate.set()
    await leader
    with pytest.raises(asyncio.CancelledError):
        await follower
    assert len(inner.calls) == 1


def test_the_wrapper_reports_what_it_wraps(store: ResultCache) -> None:
    inner = Recording()
    scorer = CachingScorer(inner, store)
    assert (scorer.name, scorer.model, scorer.prompt, scorer.fingerprint, scorer.batches) == (
        "fake",
        "fake/m",
        None,
        "f0",
        True,
    )

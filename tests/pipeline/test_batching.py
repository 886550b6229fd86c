"""Micro-batching of concurrent /classify requests (gateway/pipeline/batching.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from support.scorers import Counting

from gateway.config import Settings
from gateway.errors import TextEmptyError
from gateway.pipeline.batching import Lanes, MicroBatcher, Outcome
from gateway.schemas import ClassifyRequest, ClassifyResponse, RubricRef
from gateway.scoring import LocalScorer
from gateway.server import create_app


def _response(text: str) -> ClassifyResponse:
    return ClassifyResponse(
        axis="category",
        top_label=text,
        scores={text: 1.0},
        raw={text: 1.0},
        confidence=1.0,
        margin=1.0,
        entropy=0.0,
        decision="auto_route",
        reason="test",
        labels=[text],
        rubric=RubricRef(name="t", fingerprint="f"),
        model="m",
        scorer="fake",
        latency_ms=0.0,
    )


class Recorder:
    """A batch runner that records its batches and answers each ticket with its own text."""

    def __init__(self, delay_s: float = 0.05) -> None:
        self.batches: list[list[str]] = []
        self.delay_s = delay_s

    async def __call__(self, reqs: Sequence[ClassifyRequest]) -> list[Outcome]:
        self.batches.append([r.text for r in reqs])
        await asyncio.sleep(self.delay_s)
        return [TextEmptyError("empty") if r.text == "bad" else _response(r.text) for r in reqs]


async def test_an_idle_batcher_runs_a_request_at_once_and_alone() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8)
    resp = await batcher.submit(ClassifyRequest(text="one"))
    assert resp.top_label == "one"
    assert run.batches == [["one"]]


async def test_requests_arriving_during_a_batch_share_the_next_one() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=4)
    first = asyncio.create_task(batcher.submit(ClassifyRequest(text="first")))
    await asyncio.sleep(0.01)  # "first" is being scored
    texts = [f"t{i}" for i in range(9)]
    results = await asyncio.gather(*(batcher.submit(ClassifyRequest(text=t)) for t in texts))
    assert [r.top_label for r in results] == texts  # each caller gets its own answer
    assert (await first).top_label == "first"
    # the nine that queued meanwhile go in batches of at most 4
    assert run.batches == [["first"], ["t0", "t1", "t2", "t3"], ["t4", "t5", "t6", "t7"], ["t8"]]
    assert all(r.latency_ms >= 40 for r in results)  # the wait for the batch is counted
    assert batcher.waiting == 0


async def test_a_bad_ticket_fails_only_its_own_request() -> None:
    batcher = MicroBatcher(Recorder(), max_batch=8)
    outcomes = await asyncio.gather(
        *(batcher.submit(ClassifyRequest(text=t)) for t in ("a", "b", "bad", "c")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[2], TextEmptyError)
    assert [o.top_label for o in outcomes if isinstance(o, ClassifyResponse)] == ["a", "b", "c"]


async def test_a_caller_that_goes_away_does_not_take_the_batch_down() -> None:
    run = Recorder(delay_s=0.1)
    batcher = MicroBatcher(run, max_batch=8)
    first = asyncio.create_task(batcher.submit(ClassifyRequest(text="first")))
    await asyncio.sleep(0)
    leaving = asyncio.create_task(batcher.submit(ClassifyRequest(text="leaving")))
    staying = asyncio.create_task(batcher.submit(ClassifyRequest(text="staying")))
    await asyncio.sleep(0.01)
    leaving.cancel()  # e.g. the request timed out while its batch waited
    assert (await first).top_label == "first"
    assert (await staying).top_label == "staying"
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert run.batches == [["first"], ["staying"]]  # a cancelled caller's ticket is skipped


async def test_a_bug_in_a_batch_reaches_its_callers_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def flaky(reqs: Sequence[ClassifyRequest]) -> list[Outcome]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise RuntimeError("bug")
        return [_response(r.text) for r in reqs]

    batcher = MicroBatcher(flaky, max_batch=8)
    with pytest.raises(RuntimeError):
        await batcher.submit(ClassifyRequest(text="x"))
    assert (await batcher.submit(ClassifyRequest(text="y"))).top_label == "y"


async def test_a_batch_stops_at_its_character_budget() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, max_chars=10)
    first = asyncio.create_task(batcher.submit(ClassifyRequest(text="first")))
    await asyncio.sleep(0.01)
    texts = ["aaaa", "bbbb", "cccc", "d" * 30, "e"]
    await asyncio.gather(*(batcher.submit(ClassifyRequest(text=t)) for t in texts))
    await first
    # 4+4 fit in 10 chars, 4+30 do not; a ticket longer than the budget runs alone
    assert run.batches == [["first"], ["aaaa", "bbbb"], ["cccc"], ["d" * 30], ["e"]]


class Timed(Recorder):
    """A runner whose time grows with the text, as redaction's does."""

    def __init__(self) -> None:
        super().__init__()
        self.finished: list[str] = []

    async def __call__(self, reqs: Sequence[ClassifyRequest]) -> list[Outcome]:
        self.batches.append([r.text for r in reqs])
        await asyncio.sleep(sum(len(r.text) for r in reqs) / 10_000)
        self.finished += [r.text for r in reqs]
        return [_response(r.text) for r in reqs]


async def test_a_long_ticket_never_holds_up_short_ones() -> None:
    run = Timed()
    lanes = Lanes(run, max_batch=8, max_chars=1000, heavy_chars=100)
    long = asyncio.create_task(lanes.submit(ClassifyRequest(text="L" * 5000)))  # 0.5 s
    await asyncio.sleep(0.01)
    short = [asyncio.create_task(lanes.submit(ClassifyRequest(text=f"s{i}"))) for i in range(5)]
    done, _ = await asyncio.wait(short, timeout=0.3)
    assert len(done) == 5  # answered while the long one still runs
    assert not long.done()
    assert (await long).top_label == "L" * 5000
    assert all(len(b) == 1 for b in run.batches if any(t.startswith("L") for t in b))
    assert run.finished[-1] == "L" * 5000


async def test_abandoned_long_tickets_are_not_worked_on() -> None:
    run = Timed()
    lanes = Lanes(run, max_batch=8, max_chars=1000, heavy_chars=100)
    first = asyncio.create_task(lanes.submit(ClassifyRequest(text="A" * 2000)))
    await asyncio.sleep(0.01)
    queued = [asyncio.create_task(lanes.submit(ClassifyRequest(text=c * 2000))) for c in "BCD"]
    await asyncio.sleep(0.01)
    for task in queued[:2]:
        task.cancel()  # their requests timed out while they waited
    await first
    await queued[2]
    assert [b[0][0] for b in run.batches] == ["A", "D"]


def test_concurrent_http_requests_are_scored_in_batches(
    settings: Settings, local_scorer: LocalScorer
) -> None:
    scorer = Counting(local_scorer)
    texts = [f"My card was charged twice, order {i}" for i in range(12)] + [" "]

    async def fire(app: object) -> list[int]:
        import httpx

        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            replies = await asyncio.gather(
                *(http.post("/classify", json={"text": t}) for t in texts)
            )
        assert all(r.json()["top_label"] == "billing" for r in replies[:-1])
        return [r.status_code for r in replies]

    with TestClient(create_app(settings, wait=True, scorer=scorer)) as client:
        statuses = client.portal.call(fire, client.app)  # type: ignore[union-attr]  # its loop
    assert statuses == [200] * 12 + [422]
    assert sum(scorer.sizes) == 12  # the empty ticket is refused before scoring
    assert len(scorer.sizes) < 12  # some requests shared a batch

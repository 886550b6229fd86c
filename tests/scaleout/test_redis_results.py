"""The result cache and single-flight in Redis, in one process: two ``CachingScorer``s with
their own local stores and flights stand for two replicas sharing one Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr
from support.redis_server import OwnRedis, free_port
from support.rubrics import rubric_of

from gateway.cache import CachingScorer, RedisResults, ResultCache
from gateway.config import RedisSettings
from gateway.errors import ProviderError
from gateway.rubrics import RubricSet
from gateway.scoring import AxisScores, ScoreOutcome, ScoreResult
from gateway.shared import RedisLink

AXES = ("tone",)


def rubric() -> RubricSet:
    labels = {"billing": "Is it billing?", "bug": "A bug?"}
    return rubric_of({"tone": labels}, name="r")


class Recording:
    """A scorer that records each call; ``gate`` holds calls until set; ``fallback=True``
    marks every answer an outage answer; ``fail=True`` raises from the call."""

    name, model, prompt, fingerprint, batches = "fake", "fake/m", None, "f0", True

    def __init__(self, *, fallback: bool = False, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fallback = fallback
        self.fail = fail

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.calls.append(list(texts))
        await self.gate.wait()
        if self.fail:
            raise ProviderError("refused")
        return [
            ScoreResult(
                axes={a: AxisScores(raw={"billing": 0.9}, scores={"billing": 1.0}) for a in axes},
                scorer="fake",
                model="fake/m",
                fallback=self.fallback,
            )
            for _ in texts
        ]


class Replica:
    """One replica's cache: its own link, local store, flight and inner scorer."""

    def __init__(self, link: RedisLink, directory: Path, inner: Recording) -> None:
        self.link = link
        self.local = ResultCache(directory, None, 1 << 24)
        self.inner = inner
        self.scorer = CachingScorer(inner, self.local, shared=RedisResults(link, 3600.0))

    async def score(self, text: str) -> ScoreResult:
        [out] = await self.scorer.score_many([text], rubric(), AXES)
        assert isinstance(out, ScoreResult), out
        return out


@pytest.fixture
async def links(redis_settings: RedisSettings) -> AsyncIterator[list[RedisLink]]:
    made: list[RedisLink] = []
    yield made
    for link in made:
        await link.aclose()


async def started(links: list[RedisLink], settings: RedisSettings) -> RedisLink:
    link = RedisLink(settings)
    await link.start()
    links.append(link)
    return link


def sync_client(settings: RedisSettings) -> redis.Redis:
    assert settings.url is not None
    return redis.Redis.from_url(settings.url.get_secret_value(), decode_responses=True)


async def test_an_answer_is_kept_as_the_disk_cache_keeps_it(
    redis_settings: RedisSettings, links: list[RedisLink], tmp_path: Path
) -> None:
    link = await started(links, redis_settings)
    a = Replica(link, tmp_path / "a", Recording())
    answer = await a.score("I was charged twice")
    key = a.scorer.key("I was charged twice", rubric(), AXES)
    client = sync_client(redis_settings)
    stored = client.get(f"{redis_settings.prefix}result:{key}")
    disk = ResultCache(tmp_path / "disk", None, 1 << 24)
    disk.set(key, answer)
    assert disk._cache is not None
    assert stored == disk._cache.get(key)  # the same key, the same value
    assert 3590_000 < client.pttl(f"{redis_settings.prefix}result:{key}") <= 3600_000
    assert client.exists(f"{redis_settings.prefix}flight:{key}") == 0  # the lock is released
    assert len(a.local._cache) == 0  # Redis up: nothing kept locally  # type: ignore[arg-type]
    assert "charged" not in str(stored)


async def test_a_hit_crosses_replicas(
    redis_settings: RedisSettings, links: list[RedisLink], tmp_path: Path
) -> None:
    a = Replica(await started(links, redis_settings), tmp_path / "a", Recording())
    b = Replica(await started(links, redis_settings), tmp_path / "b", Recording())
    first = await a.score("The app crashes on start")
    second = await b.score("The app crashes on start")
    assert first.origin == "scored" and second.origin == "cache"
    assert second.axes == first.axes
    assert (len(a.inner.calls), len(b.inner.calls)) == (1, 0)


async def test_identical_misses_on_two_replicas_make_one_call(
    redis_settings: RedisSettings, links: list[RedisLink], tmp_path: Path
) -> None:
    a = Replica(await started(links, redis_settings), tmp_path / "a", Recording())
    b = Replica(await started(links, redis_settings), tmp_path / "b", Recording())
    for replica in (a, b):
        replica.inner.gate.clear()
    tasks = [asyncio.create_task((a, b)[i % 2].score("Where is my invoice?")) for i in range(10)]
    deadline = time.monotonic() + 5
    while not (a.inner.calls or b.inner.calls):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # every other request is waiting now
    a.inner.gate.set()
    b.inner.gate.set()
    out = await asyncio.gather(*tasks)
    assert len(a.inner.calls) + len(b.inner.calls) == 1
    assert {o.origin for o in out} == {"scored", "joined"}
    assert len({o.model_dump_json() for o in out}) == 1


async def test_a_waiter_scores_itself_once_the_lock_expires(
    redis_settings: RedisSettings, links: list[RedisLink], tmp_path: Path
) -> None:
    settings = redis_settings.model_copy(update={"flight_lock_s": 0.4})
    a = Replica(await started(links, settings), tmp_path / "a", Recording())
    key = a.scorer.key("stuck", rubric(), AXES)
    # a replica that took the lock and died: nobody releases it
    sync_client(settings).set(f"{settings.prefix}flight:{key}", "dead", px=400)
    started_at = time.monotonic()
    out = await a.score("stuck")
    assert 0.3 <= time.monotonic() - started_at < 3
    assert out.origin == "scored" and len(a.inner.calls) == 1


async def test_a_leader_without_an_answer_to_keep_frees_its_waiters(
    redis_settings: RedisSettings, links: list[RedisLink], tmp_path: Path
) -> None:
    settings = redis_settings.model_copy(update={"flight_lock_s": 10.0})
    a = Replica(await started(links, settings), tmp_path / "a", Recording(fallback=True))
    b = Replica(await started(links, settings), tmp_path / "b", Recording())
    a.inner.gate.clear()
    leader = asyncio.create_task(a.score("outage"))
    deadline = time.monotonic() + 5
    while not a.inner.calls:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    waiter = asyncio.create_task(b.score("outage"))
    await asyncio.sleep(0.2)
    assert not b.inner.calls  # waiting on a's lock
    started_at = time.monotonic()
    a.inner.gate.set()
    assert (await leader).fallback  # an outage answer: never kept
    assert not (await waiter).fallback
    assert time.monotonic() - started_at < 2  # the lock was released, not waited out
    assert len(b.inner.calls) == 1


async def test_a_failed_leader_releases_its_locks(
    redis_settings: RedisSettings, links: list[RedisLink], tmp_path: Path
) -> None:
    a = Replica(await started(links, redis_settings), tmp_path / "a", Recording(fail=True))
    with pytest.raises(ProviderError):
        await a.score("fails")
    key = a.scorer.key("fails", rubric(), AXES)
    client = sync_client(redis_settings)
    deadline = time.monotonic() + 2
    while client.exists(f"{redis_settings.prefix}flight:{key}"):
        assert time.monotonic() < deadline, "the lock was not released"
        await asyncio.sleep(0.02)
    assert len(a.scorer.flight) == 0


async def test_redis_down_serves_from_the_local_store(
    tmp_path: Path, links: list[RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = RedisSettings(url=SecretStr(f"redis://127.0.0.1:{free_port()}/0"))
    with caplog.at_level(logging.WARNING, "gateway"):
        link = await started(links, nowhere)
        a = Replica(link, tmp_path / "a", Recording())
        first = await a.score("offline")
        second = await a.score("offline")
        for i in range(20):
            await a.score(f"offline {i}")
    assert not link.up and link.status().error == "ConnectionError"
    assert first.origin == "scored" and second.origin == "cache"  # the local store
    assert len(a.inner.calls) == 21
    assert caplog.text.count("redis unreachable") == 1  # once a minute, not per request


async def test_the_link_comes_back_when_redis_does(
    tmp_path: Path, links: list[RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    server = OwnRedis(tmp_path).start()
    try:
        settings = RedisSettings(url=SecretStr(server.url), check_interval_s=0.1)
        link = await started(links, settings)
        a = Replica(link, tmp_path / "a", Recording())
        assert link.up
        await a.score("before")
        server.kill()
        with caplog.at_level(logging.WARNING, "gateway"):
            assert (await a.score("during")).origin == "scored"  # its read failed: local
            assert (await a.score("during")).origin == "cache"  # from the local store
            assert not link.up
            server.start()  # the same port, empty (no persistence)
            deadline = time.monotonic() + 5
            while not link.up:
                assert time.monotonic() < deadline, "the link did not come back"
                await asyncio.sleep(0.05)
        assert "redis answers again" in caplog.text
        await a.score("after")
        client = redis.Redis.from_url(server.url, decode_responses=True)
        key = a.scorer.key("after", rubric(), AXES)
        assert client.exists(f"{settings.prefix}result:{key}") == 1  # kept in Redis again
    finally:
        server.stop()


async def test_a_full_redis_refuses_writes_and_answers_are_kept_locally(
    tmp_path: Path, links: list[RedisLink], caplog: pytest.LogCaptureFixture
) -> None:
    server = OwnRedis(tmp_path, "--maxmemory", "8mb", "--maxmemory-policy", "noeviction").start()
    try:
        settings = RedisSettings(url=SecretStr(server.url), prefix="full:")
        with caplog.at_level(logging.WARNING, "gateway"):
            link = await started(links, settings)
        assert "maxmemory-policy=noeviction" in caplog.text  # the start-up check says so
        filler = redis.Redis.from_url(server.url)
        for i in range(300):
            filler.set(f"junk:{i}", "x" * 10_000)  # 3 MB
        filler.config_set("maxmemory", "1mb")  # now over it: every write is refused
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            filler.set("one-more", "x")
        a = Replica(link, tmp_path / "a", Recording())
        with caplog.at_level(logging.WARNING, "gateway"):
            first = await a.score("no room")
            second = await a.score("no room")
        assert link.up  # a refused command is not an outage
        assert first.origin == "scored" and second.origin == "cache"  # the local store
        assert "refused the command" in caplog.text
    finally:
        server.stop()

"""The per-key rate limit in Redis: one bucket per key for every replica, spent by one script,
with the in-process bucket's semantics and Retry-After; per process while Redis is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest
import redis
from pydantic import SecretStr
from support.redis_server import free_port, keys_under

from gateway.config import RedisSettings
from gateway.server.security import RedisTokenBucket, TokenBucket
from gateway.shared import RedisLink


@pytest.fixture
async def link(redis_settings: RedisSettings) -> AsyncIterator[RedisLink]:
    made = RedisLink(redis_settings)
    await made.start()
    yield made
    await made.aclose()


async def test_two_replicas_share_one_bucket(
    link: RedisLink, redis_settings: RedisSettings
) -> None:
    other = RedisLink(redis_settings)
    await other.start()
    try:
        a, b = RedisTokenBucket(5, link), RedisTokenBucket(5, other)
        waits = [await (a if i % 2 else b).spend("key1") for i in range(8)]
        assert waits[:5] == [0.0] * 5  # one bucket of 5 between them, not 5 each
        assert all(0 < w <= 12.0 for w in waits[5:])  # 5 a minute: one token per 12 s
        assert await a.spend("key2") == 0.0  # buckets are per key
    finally:
        await other.aclose()


async def test_the_same_semantics_as_the_in_process_bucket(link: RedisLink) -> None:
    shared, local = RedisTokenBucket(3, link), TokenBucket(3)
    theirs = [await shared.spend("k") for _ in range(5)]
    ours = [local.take("k") for _ in range(5)]
    assert [w == 0 for w in theirs] == [w == 0 for w in ours] == [True] * 3 + [False] * 2
    for t, o in zip(theirs[3:], ours[3:], strict=True):
        assert t == pytest.approx(o, abs=0.05)  # ~20 s: one token per 20 s


async def test_the_bucket_refills(link: RedisLink) -> None:
    bucket = RedisTokenBucket(600, link)  # 10 a second
    started = time.monotonic()
    allowed = 0
    while (wait := await bucket.spend("k")) == 0:
        allowed += 1
        assert allowed < 2000
    assert 600 <= allowed <= 600 + (time.monotonic() - started) * 10 + 1
    assert 0 < wait <= 0.11
    await asyncio.sleep(wait + 0.02)
    assert await bucket.spend("k") == 0


async def test_concurrent_spends_are_atomic(link: RedisLink) -> None:
    bucket = RedisTokenBucket(20, link)
    waits = await asyncio.gather(*(bucket.spend("burst") for _ in range(60)))
    assert sum(1 for w in waits if w == 0) in (20, 21)  # 21: one refilled during the burst


async def test_redis_holds_the_key_id_only_and_lets_it_expire(
    link: RedisLink, redis_settings: RedisSettings
) -> None:
    bucket = RedisTokenBucket(6, link)
    assert await bucket.spend("0123456789ab") == 0
    assert redis_settings.url is not None
    url = redis_settings.url.get_secret_value()
    assert keys_under(url, redis_settings.prefix) == [
        f"{redis_settings.prefix}ratelimit:0123456789ab"
    ]
    client = redis.Redis.from_url(url, decode_responses=True)
    ttl = client.pttl(f"{redis_settings.prefix}ratelimit:0123456789ab")
    assert 10_000 <= ttl <= 11_000  # full again in 10 s (one token at 6 a minute), + 1 s
    assert set(client.hgetall(f"{redis_settings.prefix}ratelimit:0123456789ab")) == {
        "tokens",
        "at",
    }


async def test_redis_down_limits_per_process(caplog: pytest.LogCaptureFixture) -> None:
    down = RedisLink(RedisSettings(url=SecretStr(f"redis://127.0.0.1:{free_port()}/0")))
    with caplog.at_level(logging.WARNING, "gateway"):
        await down.start()
        bucket = RedisTokenBucket(2, down)
        waits = [await bucket.spend("k") for _ in range(3)]
    await down.aclose()
    assert not bucket.shared
    assert waits[:2] == [0.0, 0.0] and 0 < waits[2] <= 30
    assert caplog.text.count("redis unreachable") == 1

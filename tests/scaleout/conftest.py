"""Fixtures for the replicas' shared state: a Redis database and key prefix of each test's own
on the shared server, skipped with a clear message only when no Redis answers there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from support.redis_server import SHARED_URL, answers, delete_prefix, unique_prefix

from gateway.config import RedisSettings


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not answers(SHARED_URL):
        pytest.skip(f"no Redis server answers at {SHARED_URL} (start one: redis-server --save '')")
    return SHARED_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = unique_prefix()
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture
def redis_settings(redis_url: str, redis_prefix: str) -> RedisSettings:
    return RedisSettings(url=SecretStr(redis_url), prefix=redis_prefix)

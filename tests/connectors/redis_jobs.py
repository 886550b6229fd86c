"""Redis for the job-queue tests: the shared server (database 11, a key prefix of each test's
own), skipped with a clear message only when no Redis answers; every key the queue wrote
(ours under the prefix, saq's under ``saq:<prefix>helpdesk``) is deleted afterwards."""

from __future__ import annotations

import asyncio

import redis
from pydantic import SecretStr
from support.redis_server import SHARED_URL, delete_prefix

from gateway.config import ConnectorSettings, RedisSettings
from gateway.connectors.redis_queue import RedisJobs
from gateway.store import JobRecord


def settings(prefix: str, url: str = SHARED_URL) -> RedisSettings:
    return RedisSettings(url=SecretStr(url), prefix=prefix)


def clean(prefix: str, url: str = SHARED_URL) -> int:
    """Deletes our keys and saq's for this prefix; how many there were."""
    removed = delete_prefix(url, prefix)
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for pattern in (f"saq:{prefix}helpdesk:*", f"saq:job:{prefix}helpdesk:*"):
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                removed += int(client.delete(*keys))
    finally:
        client.close()
    return removed


def redis_jobs(prefix: str) -> list[JobRecord]:
    """The jobs in Redis, read by a client of the test's own (a gateway's is on its loop)."""

    async def read() -> list[JobRecord]:
        queue = RedisJobs(settings(prefix), ConnectorSettings())
        try:
            return await queue.jobs(states=None, limit=1000)
        finally:
            await queue.aclose()

    return asyncio.run(read())

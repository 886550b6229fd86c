"""The result cache and single-flight in Redis, shared by every replica (``GATEWAY_REDIS_URL``).

Same keys as the disk cache (``CacheKey.digest()``), under ``<GATEWAY_REDIS_PREFIX>result:``,
and the same value: the ``ScoreResult`` as JSON, never ticket text. Entries expire after
``GATEWAY_CACHE_TTL_S``; the memory bound is Redis' own (``maxmemory`` with a ``volatile-*`` or
``allkeys-lru`` policy: every key written here has a TTL), so a full Redis evicts old answers
instead of refusing new ones.

Single-flight across replicas: a replica about to score a key takes its lock first
(``SET <prefix>flight:<key> <token> NX PX <GATEWAY_REDIS_FLIGHT_LOCK_S>``); one that finds it
taken polls for the answer (``MGET`` of answers and locks, every ``GATEWAY_REDIS_FLIGHT_POLL_S``)
until it arrives, the lock is gone without one (the leader failed or answered from the
fallback: score it yourself) or the lock time has passed (score it yourself). The leader
stores its answers and releases its locks in one round trip (a compare-and-delete script: a
lock that expired and was taken by another replica is left alone).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis

from gateway.cache.observer import CacheObserver, NullCacheObserver
from gateway.cache.shared import Claim
from gateway.scoring import ScoreResult
from gateway.shared import RedisLink

# KEYS: the locks; ARGV[1]: the claim's token. Deletes only the locks still holding it.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


class RedisResults:
    """``SharedResults`` on a ``RedisLink``; every failure is the link's
    ``SharedStateUnavailableError``."""

    def __init__(
        self, link: RedisLink, ttl_s: float | None, observer: CacheObserver | None = None
    ) -> None:
        self.link = link
        self.ttl_ms = None if ttl_s is None else max(1, int(ttl_s * 1000))
        self.lock_ms = max(1, int(link.settings.flight_lock_s * 1000))
        self.poll_s = link.settings.flight_poll_s
        self.observer = observer or NullCacheObserver()

    def result_key(self, key: str) -> str:
        return self.link.key("result", key)

    def lock_key(self, key: str) -> str:
        return self.link.key("flight", key)

    @staticmethod
    def _parse(stored: object) -> ScoreResult | None:
        if not isinstance(stored, str):
            return None
        try:
            return ScoreResult.model_validate_json(stored)
        except ValidationError:  # an entry from an older schema: a miss, overwritten later
            return None

    async def _mget(self, op: str, keys: list[str]) -> list[Any]:
        async def call(client: Redis) -> list[Any]:
            return list(await client.mget(keys))

        return await self.link.run(op, call)

    async def get_many(self, keys: Sequence[str]) -> list[ScoreResult | None]:
        if not keys:
            return []
        stored = await self._mget("read", [self.result_key(k) for k in keys])
        out = [self._parse(value) for value in stored]
        for result in out:
            if result is not None:
                self.observer.hit()  # a miss is counted by the local store, read next
        return out

    async def claim(self, keys: Sequence[str]) -> Claim:
        token = uuid.uuid4().hex
        if not keys:
            return Claim(token)

        async def call(client: Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.set(self.lock_key(key), token, nx=True, px=self.lock_ms)
                pipe.get(self.result_key(key))  # after the lock: a leader's answer is seen
            return await pipe.execute()

        replies = await self.link.run("lock", call)
        led = frozenset(k for k, ok in zip(keys, replies[0::2], strict=True) if ok)
        answers = {
            key: result
            for key, stored in zip(keys, replies[1::2], strict=True)
            if (result := self._parse(stored)) is not None
        }
        return Claim(token, led, answers)

    async def finish(self, answers: Sequence[tuple[str, ScoreResult]], claim: Claim) -> None:
        if not answers and not claim.led:
            return

        async def call(client: Redis) -> None:
            pipe = client.pipeline(transaction=False)
            for key, value in answers:
                pipe.set(self.result_key(key), value.model_dump_json(), px=self.ttl_ms)
            if claim.led:
                locks = [self.lock_key(k) for k in sorted(claim.led)]
                pipe.eval(_RELEASE, len(locks), *locks, claim.token)
            await pipe.execute()

        await self.link.run("write", call)

    async def wait_many(self, keys: Sequence[str]) -> dict[str, ScoreResult]:
        found: dict[str, ScoreResult] = {}
        pending = list(keys)
        deadline = time.monotonic() + self.lock_ms / 1000
        while pending:
            stored = await self._mget(
                "wait",
                [self.result_key(k) for k in pending] + [self.lock_key(k) for k in pending],
            )
            answers, locks = stored[: len(pending)], stored[len(pending) :]
            waiting: list[str] = []
            for key, answer, lock in zip(pending, answers, locks, strict=True):
                result = self._parse(answer)
                if result is not None:
                    found[key] = result
                elif lock is not None:
                    waiting.append(key)  # still being scored elsewhere
            pending = waiting
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.sleep(self.poll_s)
        return found

"""The per-key rate limit shared by every replica: the same token bucket as ``TokenBucket``,
its state in Redis, read, refilled and spent by one script (atomic: one request, one command).

Stored per key: ``<GATEWAY_REDIS_PREFIX>ratelimit:<principal.id>`` -> {tokens, at} (a 12-hex
prefix of the key's sha256, or ``anonymous:<loopback ip>``; never the key), expiring when the
bucket would be full again. The clock is Redis' (``TIME``), so replicas' clocks need not agree.
While Redis cannot answer, each process limits with its own in-memory bucket (a key may then
get up to its limit per process) and the link says so once a minute; never a 500.
"""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.errors import SharedStateUnavailableError
from gateway.server.security.ratelimit import TokenBucket
from gateway.shared import RedisLink

# KEYS[1]: the bucket; ARGV[1]: capacity (= the burst, tokens), ARGV[2]: refill (tokens a
# second). Returns "0" when a token was spent, else the seconds until one is back (a string:
# Lua numbers come back from Redis as integers). A refusal writes nothing.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tokens = capacity
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
if stored[1] then
  local elapsed = math.max(0, now - tonumber(stored[2]))
  tokens = math.min(capacity, tonumber(stored[1]) + elapsed * rate)
end
if tokens < 1 then
  return tostring((1 - tokens) / rate)
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(((capacity - tokens) / rate + 1) * 1000))
return '0'
"""


class RedisTokenBucket:
    """``RateLimiter`` on a ``RedisLink``; ``local`` is the per-process fallback."""

    def __init__(self, per_minute: int, link: RedisLink) -> None:
        self.link = link
        self.local = TokenBucket(per_minute)  # the fallback, and the bucket's parameters

    @property
    def shared(self) -> bool:
        return self.link.up

    async def spend(self, who: str) -> float:
        """0 when allowed; otherwise seconds until one token is available."""
        key = self.link.key("ratelimit", who)

        async def take(client: Redis) -> float:
            reply = await client.eval(
                _TAKE, 1, key, str(self.local.capacity), repr(self.local.refill_per_s)
            )
            return float(reply)

        try:
            return await self.link.run("ratelimit", take)
        except SharedStateUnavailableError:
            return self.local.take(who)

    def close(self) -> None:
        return None  # the link is the app's: closed by its lifespan

"""The per-key rate limit: token buckets in memory, and the same buckets shared by every
process on the machine through a diskcache directory (``ratelimit_redis``: by every replica,
through Redis)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Protocol

import diskcache

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    """The Guard's limiter: per machine (``SharedTokenBucket``) or per deployment
    (``ratelimit_redis.RedisTokenBucket``, with ``GATEWAY_REDIS_URL``)."""

    async def spend(self, who: str) -> float:
        """0 when allowed; otherwise seconds until one token is available (Retry-After)."""
        ...

    def close(self) -> None: ...


class TokenBucket:
    """Per-key token buckets in memory (per process): ``rate`` per minute, burst = rate.
    Served through SharedTokenBucket, which falls back to this when its store is unusable."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def refilled(self, tokens: float, last: float, now: float) -> float:
        """A bucket's tokens at ``now``; a clock stepped back refills nothing."""
        return min(self.capacity, tokens + max(0.0, now - last) * self.refill_per_s)

    def wait_for_one(self, tokens: float) -> float:
        """Seconds until a bucket holding ``tokens`` (< 1) has one."""
        return (1.0 - tokens) / self.refill_per_s

    def take(self, who: str) -> float:
        """0 when allowed; otherwise seconds until one token is available."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.capacity, now))
            tokens = self.refilled(tokens, last, now)
            if tokens >= 1.0:
                self._buckets[who] = (tokens - 1.0, now)
                return 0.0
            self._buckets[who] = (tokens, now)
            return self.wait_for_one(tokens)


_WARN_EVERY_S = 60.0  # a failing store fails every request: warn once a minute


class SharedTokenBucket:
    """The same token bucket, its state in a diskcache directory that every process serving
    this gateway on the machine shares (``<GATEWAY_CACHE_DIR>/ratelimit``), so the limit holds
    across ``--workers N`` or any process manager; always used when the limit is on.

    One ``Cache.transact()`` (an SQLite ``BEGIN IMMEDIATE``, atomic across processes) reads,
    refills and spends a key's tokens. diskcache's ``throttle`` recipe is this algorithm, but it
    sleeps until a token is free and keys by function; we must refuse at once, per key. Stored:
    ``principal.id`` (a 12-hex prefix of the key's sha256, or ``anonymous:<loopback ip>``) ->
    (tokens, wall-clock time), nothing else; an entry expires when its bucket would be full.
    A store that cannot be opened or fails (read-only, corrupt, locked) degrades to the
    in-process bucket with a warning, never a 500; the limit is then per process again.
    """

    def __init__(self, per_minute: int, directory: Path) -> None:
        self.directory = directory
        self.local = TokenBucket(per_minute)  # the fallback, and the bucket arithmetic
        self._warned_at = -_WARN_EVERY_S
        self._store = self._open()

    def _open(self) -> diskcache.Cache | None:
        try:
            # The result cache's options (gateway/cache.py: no WAL, no mmap, so a read-only or
            # full disk is an exception rather than a SIGBUS), a short lock wait (this runs on
            # the event loop), and no eviction: only expiry removes a bucket.
            return diskcache.Cache(
                str(self.directory),
                timeout=0.5,
                sqlite_journal_mode="delete",
                sqlite_mmap_size=0,
                eviction_policy="none",
            )
        except Exception as exc:
            log.warning(
                "shared rate-limit store at %s unusable (%s); limiting per process",
                self.directory,
                type(exc).__name__,
            )
            return None

    @property
    def shared(self) -> bool:
        return self._store is not None

    async def spend(self, who: str) -> float:
        """``take``, as a ``RateLimiter`` (one short SQLite transaction on the loop)."""
        return self.take(who)

    def take(self, who: str) -> float:
        """0 when allowed; otherwise seconds until one token is available."""
        if self._store is None:
            return self.local.take(who)
        try:
            return self._take(self._store, who)
        except Exception as exc:
            now = time.monotonic()
            if now - self._warned_at >= _WARN_EVERY_S:
                self._warned_at = now
                log.warning(
                    "shared rate-limit store failed (%s); limiting per process",
                    type(exc).__name__,
                )
            return self.local.take(who)

    def _take(self, store: diskcache.Cache, who: str) -> float:
        with store.transact():
            now = time.time()  # inside the lock: every process sees times in order
            bucket = self.local
            stored, last = store.get(who, default=(bucket.capacity, now))
            tokens = bucket.refilled(float(stored), float(last), now)
            if tokens < 1.0:
                return bucket.wait_for_one(tokens)  # nothing written: refusals are cheap
            tokens -= 1.0
            # Once full again the entry says nothing a missing one does not: let it expire.
            full_in = (bucket.capacity - tokens) / bucket.refill_per_s
            store.set(who, (tokens, now), expire=full_in + 1.0)
            return 0.0

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

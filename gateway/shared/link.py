"""The link to Redis: one asyncio client per process, whether it is up, and the way back.

Built by the app factory, started in the lifespan (the client belongs to the server's event
loop), handed to the result cache and the rate limiter. Every operation goes through ``run``:

- up: the command, with tight socket timeouts (``GATEWAY_REDIS_TIMEOUT_S``) and no retries;
  a failure is a ``SharedStateUnavailableError`` (``errors.translate``) and, when the server is
  out of reach, marks the link down;
- down: ``run`` raises at once, without touching the network, and the caller serves locally
  (its own cache, a per-process limit);
- a background check (``PING`` every ``GATEWAY_REDIS_CHECK_INTERVAL_S``) notices an outage
  nobody's request met, and brings the link back up once Redis answers again.

One warning a minute while it fails, not one a request; the observer (metrics) is told every
change, and ``status()`` is what ``/healthz`` shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.config import RedisSettings
from gateway.errors import SharedStateUnavailableError
from gateway.schemas import RedisStatus
from gateway.shared.errors import translate

log = logging.getLogger(__name__)

T = TypeVar("T")
_WARN_EVERY_S = 60.0


class LinkObserver(Protocol):
    """Told about the link (the server's metrics): its state, and each failed operation."""

    def redis_up(self, up: bool) -> None: ...

    def redis_error(self, op: str) -> None: ...


class NullLinkObserver:
    def redis_up(self, up: bool) -> None:
        return None

    def redis_error(self, op: str) -> None:
        return None


def connect(settings: RedisSettings) -> Redis:
    """The client: a bounded pool (a request waits at most ``timeout_s`` for a connection),
    ``timeout_s`` to connect and per reply, no retries (the caller has a local answer)."""
    assert settings.url is not None
    pool = BlockingConnectionPool.from_url(
        settings.url.get_secret_value(),
        max_connections=settings.max_connections,
        timeout=settings.timeout_s,
        socket_timeout=settings.timeout_s,
        socket_connect_timeout=settings.timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )
    return Redis(connection_pool=pool)


Connect = Callable[[RedisSettings], Redis]


def _utc(wall: float | None) -> datetime | None:
    return None if wall is None else datetime.fromtimestamp(wall, UTC)


class RedisLink:
    def __init__(
        self,
        settings: RedisSettings,
        observer: LinkObserver | None = None,
        connect: Connect = connect,
    ) -> None:
        self.settings = settings
        self.observer = observer or NullLinkObserver()
        self._connect = connect
        self._client: Redis | None = None
        self._up = False
        self._error: str | None = "not started"
        self._checked_at: float | None = None
        self._changed_at: float | None = None
        self._warned_at = -math.inf
        self._checker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Builds the client on the running loop, checks once (bounded by the timeouts) and
        starts the periodic check. Redis down at start-up is a warning, not a failed start."""
        if self._client is None:
            self._client = self._connect(self.settings)
        if await self.check():
            await self._check_memory_bound(self._client)
        if self._checker is None:
            self._checker = asyncio.create_task(self._check_forever(), name="redis-link-check")

    async def aclose(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
            self._checker = None
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                await client.aclose()
        self._up = False
        self._error = "closed"

    # ------------------------------------------------------------------ state
    @property
    def up(self) -> bool:
        return self._up and self._client is not None

    def status(self) -> RedisStatus:
        return RedisStatus(
            up=self.up,
            checked_at=_utc(self._checked_at),
            since=_utc(self._changed_at),
            error=None if self.up else self._error,
        )

    def key(self, kind: str, name: str) -> str:
        """A key of this gateway's: ``<prefix><kind>:<name>``."""
        return f"{self.settings.prefix}{kind}:{name}"

    # ------------------------------------------------------------------ operations
    async def run(self, op: str, call: Callable[[Redis], Awaitable[T]]) -> T:
        """``call`` on the client; raises ``SharedStateUnavailableError`` when the link is down
        (at once) or the operation fails (after at most the timeouts)."""
        client = self._client
        if client is None or not self._up:
            raise SharedStateUnavailableError(f"redis is down ({op} skipped)")
        try:
            return await call(client)
        except Exception as exc:
            raise self.failed(op, exc) from exc

    def failed(self, op: str, exc: BaseException) -> SharedStateUnavailableError:
        """Records a failed operation (metrics, the warning a minute, the link's state) and
        returns the error to raise."""
        error = translate(op, exc)
        self.observer.redis_error(op)
        if error.link_down:
            self._set(up=False, error=type(exc).__name__)
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            if error.link_down:
                log.warning(
                    "%s; serving from this replica's own cache with a per-process rate limit "
                    "until it answers again (checked every %g s)",
                    error.message,
                    self.settings.check_interval_s,
                )
            else:
                log.warning("%s; answered from this replica's own cache", error.message)
        return error

    async def check(self) -> bool:
        """One ``PING``; brings the link up or down. Never raises."""
        client = self._client
        if client is None:
            return False
        was_up = self._up
        if not was_up:
            # connections made before an outage are dead: the next command gets a fresh one
            with contextlib.suppress(Exception):
                await client.connection_pool.disconnect()
        try:
            await client.ping()
        except Exception as exc:
            self._checked_at = time.time()
            self.failed("check", exc)
            return False
        self._checked_at = time.time()
        if not was_up:
            self._set(up=True, error=None)
            if self._changed_at is not None and self._warned_at > -math.inf:
                log.warning("redis answers again; shared cache and rate limits are back")
        return True

    async def _check_memory_bound(self, client: Redis) -> None:
        """Warns, once at start-up, when Redis would not bound the cache: no ``maxmemory``
        (it grows until the TTLs expire entries) or ``noeviction`` (when full, new answers are
        refused and kept in this replica's own cache). Servers that forbid INFO: no check."""
        try:
            memory = await client.info("memory")
        except Exception:
            return
        limit, policy = int(memory.get("maxmemory", 0)), str(memory.get("maxmemory_policy", ""))
        if limit == 0:
            risk = "the shared result cache is bounded only by GATEWAY_CACHE_TTL_S"
        elif policy == "noeviction":
            risk = "once full, new answers are refused (kept in each replica's own cache)"
        else:
            return
        log.warning(
            "redis maxmemory=%d maxmemory-policy=%s: %s; set maxmemory and allkeys-lru (or "
            "volatile-lru: every key the gateway writes has a TTL)",
            limit,
            policy or "?",
            risk,
        )

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_interval_s)
            await self.check()

    def _set(self, *, up: bool, error: str | None) -> None:
        if error is not None:
            self._error = error
        if up != self._up or self._changed_at is None:
            self._changed_at = time.time()
        self._up = up
        self.observer.redis_up(up)

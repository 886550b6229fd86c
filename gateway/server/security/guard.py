"""The Guard: built once per app, it authenticates and rate-limits each request; ``authorize``,
``identify`` and ``authorize_scrape`` are its FastAPI dependencies, one per kind of route."""

from __future__ import annotations

from typing import Final, Protocol

from fastapi import Request
from pydantic import BaseModel

from gateway.config import Settings
from gateway.errors import ForbiddenError, RateLimitedError, UnauthorizedError
from gateway.server.security.clients import TrustedProxies
from gateway.server.security.keys import (
    ApiKey,
    KeyStore,
    Role,
    load_metrics_keys,
    presented_key,
)
from gateway.server.security.ratelimit import RateLimiter, SharedTokenBucket
from gateway.server.security.ratelimit_redis import RedisTokenBucket
from gateway.shared import RedisLink


class AccessObserver(Protocol):
    """Told about access decisions worth counting; the app passes its metrics here."""

    def rate_limited(self) -> None: ...


class NullAccessObserver:
    """Counts nothing: the default, so a Guard built without metrics (tests, tools) works."""

    def rate_limited(self) -> None:
        pass


NULL_OBSERVER: Final = NullAccessObserver()  # stateless, so one instance can be shared


class Principal(BaseModel):
    """Who is calling: a key, or ``anonymous`` on a keyless (loopback-only) gateway."""

    id: str
    key: ApiKey | None = None

    def may_use(self, rubric: str) -> bool:
        return self.key is None or self.key.allows(rubric)

    @property
    def restricted(self) -> bool:
        """Whether the caller's key is limited to some rubric sets."""
        return self.key is not None and self.key.restricted

    def check_rubric(self, rubric: str) -> None:
        if not self.may_use(rubric):
            raise ForbiddenError(f"this API key is not allowed the rubric set {rubric!r}")

    def has(self, role: Role) -> bool:
        """Every role on a keyless (loopback-only) gateway; else the key's."""
        return self.key is None or self.key.has(role)

    def require(self, role: Role) -> None:
        if not self.has(role):
            raise ForbiddenError(f"this API key does not have the {role!r} role")

    @property
    def who(self) -> str:
        """How labels name their author: the key id, never the key."""
        return self.id


class Guard:
    """Built once per app: authenticates and rate-limits each request.

    Per route: the classify routes take a key (when keys are configured) and spend its tokens
    (``authorize``); ``/rubrics`` and the API docs take a key and spend none (``identify``);
    ``/metrics`` takes a scrape key or an API key for every rubric set (``authorize_scrape``);
    ``/healthz`` takes nothing and shows details only to a caller who ``may_see_details``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        observer: AccessObserver = NULL_OBSERVER,
        link: RedisLink | None = None,
    ) -> None:
        self.observer = observer
        self.keys = KeyStore.from_settings(settings)
        self.scrape_keys = KeyStore(load_metrics_keys(settings))
        self.proxies = TrustedProxies(settings.access.trusted_proxies)
        self.limiter = _limiter(settings, link)

    def identify(self, request: Request) -> Principal:
        """Who is calling, without spending a token: 401 without a known key when keys are
        configured; on a keyless gateway ``anonymous:<client address>``."""
        if not self.keys.required:
            return Principal(id=f"anonymous:{self.proxies.client(request)}")
        presented = presented_key(request)
        if presented is None:
            raise UnauthorizedError("an API key is required (x-api-key or Bearer)")
        key = self.keys.lookup(presented)
        if key is None:
            raise UnauthorizedError("unknown API key")
        return Principal(id=key.id, key=key)

    async def authenticate(self, request: Request) -> Principal:
        """``identify``, then one token from the caller's rate-limit bucket (429 when empty)."""
        principal = self.identify(request)
        if self.limiter is not None:
            wait = await self.limiter.spend(principal.id)
            if wait > 0:
                self.observer.rate_limited()
                raise RateLimitedError("rate limit exceeded; retry later", retry_after_s=wait)
        return principal

    def authorize_scrape(self, request: Request) -> None:
        """Open while neither API keys nor scrape keys are configured; otherwise a scrape key
        (GATEWAY_METRICS_KEYS) or an API key allowed every rubric set (a key restricted to
        some sets would see the others' traffic in the per-rubric counters)."""
        if not (self.keys.required or self.scrape_keys.required):
            return
        presented = presented_key(request)
        if presented is None:
            raise UnauthorizedError("a metrics key or an API key is required (x-api-key or Bearer)")
        if self.scrape_keys.lookup(presented) is not None:
            return
        key = self.keys.lookup(presented)
        if key is None:
            raise UnauthorizedError("unknown key")
        if key.restricted:
            raise ForbiddenError("an API key restricted to rubric sets may not read the metrics")

    def may_see_details(self, request: Request) -> bool:
        """Whether ``/healthz`` may say why start-up failed (the reason can name server paths):
        on a keyless (loopback-only) gateway, or to a caller presenting a known API key."""
        if not self.keys.required:
            return True
        presented = presented_key(request)
        return presented is not None and self.keys.lookup(presented) is not None

    def close(self) -> None:
        if self.limiter is not None:
            self.limiter.close()


def _limiter(settings: Settings, link: RedisLink | None) -> RateLimiter | None:
    """Per deployment with Redis (``link``), else per machine (a diskcache directory that
    every worker shares); none when the limit is off."""
    per_minute = settings.access.rate_limit_per_minute
    if not per_minute:
        return None
    if link is not None:
        return RedisTokenBucket(per_minute, link)
    return SharedTokenBucket(per_minute, settings.cache.dir / "ratelimit")


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


async def authorize(request: Request) -> Principal:
    """FastAPI dependency for the classify routes; the principal lands on request.state."""
    principal = await _guard(request).authenticate(request)
    request.state.principal = principal
    return principal


async def identify(request: Request) -> Principal:
    """FastAPI dependency for the read-only routes (``/rubrics``, the API docs): a key when
    keys are configured, no token spent."""
    principal = _guard(request).identify(request)
    request.state.principal = principal
    return principal


async def authorize_scrape(request: Request) -> None:
    """FastAPI dependency for ``/metrics``."""
    _guard(request).authorize_scrape(request)


async def may_see_details(request: Request) -> bool:
    """FastAPI dependency for ``/healthz``: whether it may say why start-up failed."""
    return _guard(request).may_see_details(request)

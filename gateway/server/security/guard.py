"""The Guard: built once per app, it authenticates and rate-limits each request; ``authorize``
is its FastAPI dependency."""

from __future__ import annotations

from typing import Final, Protocol

from fastapi import Request
from pydantic import BaseModel

from gateway.config import Settings
from gateway.errors import ForbiddenError, RateLimitedError, UnauthorizedError
from gateway.server.security.keys import ApiKey, KeyStore, presented_key
from gateway.server.security.ratelimit import SharedTokenBucket


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

    def check_rubric(self, rubric: str) -> None:
        if self.key is not None and not self.key.allows(rubric):
            raise ForbiddenError(f"this API key is not allowed the rubric set {rubric!r}")


class Guard:
    """Built once per app: authenticates and rate-limits each request."""

    def __init__(self, settings: Settings, *, observer: AccessObserver = NULL_OBSERVER) -> None:
        self.observer = observer
        self.keys = KeyStore.from_settings(settings)
        self.limiter = (
            SharedTokenBucket(
                settings.access.rate_limit_per_minute, settings.cache.dir / "ratelimit"
            )
            if settings.access.rate_limit_per_minute
            else None
        )

    def authenticate(self, request: Request) -> Principal:
        if self.keys.required:
            presented = presented_key(request)
            if presented is None:
                raise UnauthorizedError("an API key is required (x-api-key or Bearer)")
            key = self.keys.lookup(presented)
            if key is None:
                raise UnauthorizedError("unknown API key")
            principal = Principal(id=key.id, key=key)
        else:
            client = request.client.host if request.client else "local"
            principal = Principal(id=f"anonymous:{client}")
        if self.limiter is not None:
            wait = self.limiter.take(principal.id)
            if wait > 0:
                self.observer.rate_limited()
                raise RateLimitedError("rate limit exceeded; retry later", retry_after_s=wait)
        return principal

    def close(self) -> None:
        if self.limiter is not None:
            self.limiter.close()


async def authorize(request: Request) -> Principal:
    """FastAPI dependency for the classify routes; the principal lands on request.state."""
    guard: Guard = request.app.state.guard
    principal = guard.authenticate(request)
    request.state.principal = principal
    return principal

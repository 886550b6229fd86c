"""Access and limits: API keys (stored as sha256 digests), per-key rate limit, body size limit,
request timeout, and the rule that an unauthenticated gateway binds to loopback only."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from pathlib import Path

import diskcache
from fastapi import Request
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import Settings
from gateway.errors import ConfigError, ForbiddenError, RateLimitedError, UnauthorizedError
from gateway.schemas import ErrorBody, ErrorDetail
from gateway.server import telemetry

log = logging.getLogger(__name__)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
INLINE = "inline"  # the rubric-set name a restricted key must list to send inline labels


class ApiKey(BaseModel):
    """One configured key: its digest and, optionally, the rubric sets it may use."""

    model_config = ConfigDict(frozen=True)

    digest: str
    rubrics: frozenset[str] | None = None  # None: every rubric set

    @property
    def id(self) -> str:
        # Short, non-reversible handle for logs and rate-limit buckets.
        return self.digest[:12]

    def allows(self, rubric: str) -> bool:
        return self.rubrics is None or rubric in self.rubrics


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse_digest(raw: str, where: str) -> str:
    digest = raw.strip().lower()
    if not _HEX64.match(digest):
        # Never echo the value: it might be a plaintext key pasted by mistake.
        raise ConfigError(f"{where}: not a sha256 hex digest (64 hex characters)")
    return digest


def load_keys(settings: Settings) -> list[ApiKey]:
    """GATEWAY_API_KEYS (digests, any rubric) plus the keys file: ``digest [rubric1,rubric2]``
    a line, ``#`` comments and blank lines ignored."""
    keys = [
        ApiKey(digest=_parse_digest(d, f"GATEWAY_API_KEYS[{i}]"))
        for i, d in enumerate(settings.access.api_keys)
    ]
    path = settings.access.api_keys_file
    if path is not None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"api keys file {path}: {type(exc).__name__}") from None
        for n, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            digest, _, rest = line.partition(" ")
            names = frozenset(r.strip() for r in rest.split(",") if r.strip())
            keys.append(ApiKey(digest=_parse_digest(digest, f"{path}:{n}"), rubrics=names or None))
    return keys


class KeyStore:
    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        return cls(load_keys(settings))

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def lookup(self, presented: str) -> ApiKey | None:
        """Constant-time over digests; every key is compared so timing does not say which."""
        digest = hash_key(presented).encode()
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest.encode()):
                found = key
        return found


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


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


class Principal(BaseModel):
    """Who is calling: a key, or ``anonymous`` on a keyless (loopback-only) gateway."""

    id: str
    key: ApiKey | None = None

    def check_rubric(self, rubric: str) -> None:
        if self.key is not None and not self.key.allows(rubric):
            raise ForbiddenError(f"this API key is not allowed the rubric set {rubric!r}")


class Guard:
    """Built once per app: authenticates and rate-limits each request."""

    def __init__(self, settings: Settings) -> None:
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
                telemetry.RATE_LIMITED.inc()
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


# ---------------------------------------------------------------- binding


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_safe_bind(settings: Settings, host: str | None = None) -> None:
    """No keys configured means anyone who can reach the port can classify: refuse to bind
    anywhere but loopback. Raises ConfigError; call before starting the server."""
    host = host or settings.server.host
    if load_keys(settings):
        return
    if not is_loopback(host):
        raise ConfigError(
            f"no API keys configured: refusing to bind {host}; bind 127.0.0.1 or set "
            "GATEWAY_API_KEYS / GATEWAY_API_KEYS_FILE (sha256 digests)"
        )


def log_access_mode(settings: Settings, guard: Guard) -> None:
    if guard.keys.required:
        log.info("API keys required (%d configured)", len(guard.keys.keys))
    elif is_loopback(settings.server.host):
        log.warning(
            "no API keys configured: unauthenticated, bound to %s only", settings.server.host
        )
    else:
        log.error(
            "no API keys configured but host is %s: serve on loopback only or configure keys",
            settings.server.host,
        )


# ---------------------------------------------------------------- limits middleware


def _error_response(status: int, code: str, message: str) -> tuple[Message, Message]:
    body = json.dumps(ErrorBody(error=ErrorDetail(code=code, message=message)).model_dump())
    data = body.encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": data}


class LimitsMiddleware:
    """Pure ASGI: 413 for bodies over ``max_bytes`` (declared or streamed), 504 past
    ``timeout_s`` if no response has started yet."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        too_large = False

        async def reply(status: int, code: str, message: str) -> None:
            for msg in _error_response(status, code, message):
                await send(msg)

        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await reply(413, "request_too_large", self._too_large())
                    return
        seen = 0

        async def receive_limited() -> Message:
            # A streamed (chunked) body: stop reading at the limit and hand the app an ended
            # body; whatever it answers is replaced by the 413 below.
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive_limited, send_tracked), self.timeout_s)
        except TimeoutError:
            log.warning("request timed out after %.1f s", self.timeout_s)
            if not started:
                await reply(504, "timeout", f"request took longer than {self.timeout_s:g} s")
            return
        if too_large and not started:
            await reply(413, "request_too_large", self._too_large())

    def _too_large(self) -> str:
        return f"request body is larger than {self.max_bytes} bytes"

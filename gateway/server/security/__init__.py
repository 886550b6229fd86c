"""Access: API keys (stored as sha256 digests), the per-key rate limit, the Guard that applies
both to each request, and the rule that an unauthenticated gateway binds to loopback only.
Body size and request timeout are ``gateway.server.limits``."""

from gateway.server.security.access import is_loopback, log_access_mode, require_safe_bind
from gateway.server.security.guard import (
    NULL_OBSERVER,
    AccessObserver,
    Guard,
    NullAccessObserver,
    Principal,
    authorize,
)
from gateway.server.security.keys import (
    INLINE,
    ApiKey,
    KeyStore,
    hash_key,
    load_keys,
    presented_key,
)
from gateway.server.security.ratelimit import SharedTokenBucket, TokenBucket

__all__ = [
    "INLINE",
    "NULL_OBSERVER",
    "AccessObserver",
    "ApiKey",
    "Guard",
    "KeyStore",
    "NullAccessObserver",
    "Principal",
    "SharedTokenBucket",
    "TokenBucket",
    "authorize",
    "hash_key",
    "is_loopback",
    "load_keys",
    "log_access_mode",
    "presented_key",
    "require_safe_bind",
]

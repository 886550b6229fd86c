"""Access: API keys (stored as sha256 digests), the per-key rate limit, the Guard that applies
both to each request, which peers' X-Forwarded-For is believed, the API docs behind the key, and
the rule that an unauthenticated gateway binds to loopback only. Body size and request timeout
are ``gateway.server.limits``."""

from gateway.server.security.access import is_loopback, log_access_mode, require_safe_bind
from gateway.server.security.clients import FORWARDED, TrustedProxies
from gateway.server.security.docs import docs_router
from gateway.server.security.guard import (
    NULL_OBSERVER,
    AccessObserver,
    Guard,
    NullAccessObserver,
    Principal,
    authorize,
    authorize_scrape,
    identify,
    may_see_details,
)
from gateway.server.security.keys import (
    INLINE,
    ROLES,
    ApiKey,
    KeyStore,
    Role,
    hash_key,
    load_keys,
    load_metrics_keys,
    presented_key,
)
from gateway.server.security.ratelimit import RateLimiter, SharedTokenBucket, TokenBucket
from gateway.server.security.ratelimit_redis import RedisTokenBucket

__all__ = [
    "FORWARDED",
    "INLINE",
    "NULL_OBSERVER",
    "ROLES",
    "AccessObserver",
    "ApiKey",
    "Guard",
    "KeyStore",
    "NullAccessObserver",
    "Principal",
    "RateLimiter",
    "RedisTokenBucket",
    "Role",
    "SharedTokenBucket",
    "TokenBucket",
    "TrustedProxies",
    "authorize",
    "authorize_scrape",
    "docs_router",
    "hash_key",
    "identify",
    "is_loopback",
    "load_keys",
    "load_metrics_keys",
    "log_access_mode",
    "may_see_details",
    "presented_key",
    "require_safe_bind",
]

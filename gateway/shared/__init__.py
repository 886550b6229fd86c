"""State shared by the replicas past one machine: the link to Redis (``GATEWAY_REDIS_URL``).

The result cache (``gateway.cache.RedisResults``) and the rate limiter
(``gateway.server.security.RedisTokenBucket``) run their commands through one ``RedisLink``;
its failures are ``SharedStateUnavailableError``s, answered locally by those callers.
"""

from gateway.shared.errors import translate
from gateway.shared.link import LinkObserver, NullLinkObserver, RedisLink, connect

__all__ = ["LinkObserver", "NullLinkObserver", "RedisLink", "connect", "translate"]

"""Redis' exceptions, translated into the gateway's tree at this boundary (one table).

    redis ConnectionError (BusyLoading too)  -> SharedStateUnavailableError(link_down=True)
    redis TimeoutError, OSError, TimeoutError -> SharedStateUnavailableError(link_down=True)
    any other RedisError                      -> SharedStateUnavailableError(link_down=False)
                                                 (one command refused: OOM, READONLY, NOSCRIPT)
    the pool's "No connection available."     -> SharedStateUnavailableError(link_down=False)
                                                 (every connection busy: this process, not Redis)

Messages name the operation and the exception class only: a Redis error can quote a key, and
a URL can carry a password.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.errors import SharedStateUnavailableError

# Exceptions that say the server is out of reach: the link goes down until a check answers.
# Any other exception is one refused command (a RedisError) or a surprise: the link stays up.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
)


def _pool_busy(exc: BaseException) -> bool:
    """Every pooled connection was in use for the whole wait (``BlockingConnectionPool``): a
    busy process, not an unreachable server."""
    return (
        isinstance(exc, RedisConnectionError)
        and isinstance(exc.__cause__, TimeoutError)
        and "No connection available" in str(exc)
    )


def translate(op: str, exc: BaseException) -> SharedStateUnavailableError:
    """The gateway's error for a failed Redis operation ``op`` (raise it ``from exc``)."""
    if _pool_busy(exc):
        return SharedStateUnavailableError(
            f"redis connection pool busy ({op}; raise GATEWAY_REDIS_MAX_CONNECTIONS)",
            link_down=False,
        )
    down = isinstance(exc, _UNREACHABLE)
    what = "unreachable" if down else "refused the command"
    return SharedStateUnavailableError(f"redis {what} ({op}: {type(exc).__name__})", link_down=down)

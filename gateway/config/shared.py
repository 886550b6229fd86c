"""The section of ``Settings`` past one machine: Redis, shared by every replica.

``GATEWAY_REDIS_URL`` switches, together, the result cache, single-flight and the per-key rate
limit from this machine's state to Redis (``gateway.shared``). Unset, nothing here is used.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from gateway.config.sections import section


class RedisSettings(BaseSettings):
    """Where the replicas' shared state is, and how little a request may wait on it."""

    model_config = section("GATEWAY_REDIS_")

    # redis://[:password@]host:port/db or rediss:// (TLS); a secret: it may hold a password
    url: SecretStr | None = Field(None, validation_alias="GATEWAY_REDIS_URL")
    prefix: str = Field(
        "rubric:", min_length=1, description="every key this gateway writes starts with it"
    )
    # Connect and per-command timeouts: a request never waits on Redis longer than this
    # (then it is served from the local cache and the per-process limit).
    timeout_s: float = Field(0.25, gt=0, le=10)
    check_interval_s: float = Field(
        2.0, gt=0, description="how often the link is checked (PING), up or down"
    )
    max_connections: int = Field(64, ge=1, description="connection pool size per process")
    flight_lock_s: float = Field(
        15.0,
        gt=0,
        description="single-flight lock per key (SET NX PX): the longest another replica "
        "waits for this one's answer before scoring the ticket itself",
    )
    flight_poll_s: float = Field(
        0.02, gt=0, le=1, description="how often a waiting replica looks for the answer"
    )

"""Binding and access mode: an unauthenticated gateway binds to loopback only, and says at
start-up how it is reachable."""

from __future__ import annotations

import ipaddress
import logging

from gateway.config import Settings
from gateway.errors import ConfigError
from gateway.server.security.guard import Guard
from gateway.server.security.keys import load_keys

log = logging.getLogger(__name__)


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
    if guard.proxies.networks:
        log.info(
            "X-Forwarded-For believed from %s only",
            ", ".join(str(network) for network in guard.proxies.networks),
        )

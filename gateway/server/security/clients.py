"""Who the client is: the connecting peer of the ASGI scope or, only when that peer is one of
``GATEWAY_TRUSTED_PROXIES``, the address the proxy names in ``X-Forwarded-For``.

The gateway decides this itself rather than leaving it to the server: uvicorn, unless told
``--no-proxy-headers``, takes ``X-Forwarded-For`` from any loopback peer and puts the address
it names in the peer's place, so on a keyless gateway (loopback-only) a header alone made every
request a new client with a fresh rate-limit bucket. ``rubric serve`` turns uvicorn's handling
off; under a uvicorn started otherwise, a peer that the header itself names is taken for such a
replacement, and every request like it shares one client id, ``FORWARDED``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Final

from starlette.requests import HTTPConnection

log = logging.getLogger(__name__)

# The client id of requests whose peer address the server already replaced from the header.
FORWARDED: Final = "forwarded"
_MAX_ID_CHARS = 64  # a non-address hop from a trusted proxy ("unknown") is kept, bounded

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(host: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return ip


def _hop_host(hop: str) -> str:
    """The host of one ``X-Forwarded-For`` entry: ``[v6]:port``, ``v4:port`` or a bare host;
    anything else is kept whole."""
    if hop.startswith("["):
        end = hop.find("]")
        rest = hop[end + 1 :]
        return hop[1:end] if end != -1 and (not rest or rest.startswith(":")) else hop
    host, colon, port = hop.partition(":")
    return host if colon and ":" not in port and port.isascii() and port.isdigit() else hop


def forwarded_for(connection: HTTPConnection) -> str:
    """Every ``X-Forwarded-For`` header, joined: client first, each proxy's addition after."""
    return ", ".join(connection.headers.getlist("x-forwarded-for"))


class TrustedProxies:
    """``GATEWAY_TRUSTED_PROXIES``: addresses and networks (validated by the settings) whose
    ``X-Forwarded-For`` is believed."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
        self._warned = False

    def trusts(self, host: str) -> bool:
        ip = _address(host)
        return ip is not None and any(ip in network for network in self.networks)

    def client(self, connection: HTTPConnection) -> str:
        """The client's address: the peer or, from a trusted peer, the rightmost hop that is
        not a trusted proxy (each proxy appends its peer; what comes before, a caller wrote)."""
        peer = connection.client.host if connection.client else "local"
        header = forwarded_for(connection)
        hops = [_hop_host(part.strip()) for part in header.split(",") if part.strip()]
        if not hops:
            return peer
        if self.trusts(peer):
            untrusted = [hop for hop in hops if not self.trusts(hop)]
            return _client_id(untrusted[-1] if untrusted else hops[0])
        if peer and peer in header:
            # The real peer is gone: the server replaced it from the header (uvicorn does for
            # loopback peers unless --no-proxy-headers); whatever it names, it is one client.
            # A server's replacement is always part of the header, whichever way it parsed it.
            self._warn_replaced()
            return FORWARDED
        return peer

    def _warn_replaced(self) -> None:
        if self._warned:
            return
        self._warned = True
        log.warning(
            "a request's peer address looks taken from X-Forwarded-For by the server; such "
            "requests share one rate-limit client. Serve with `rubric serve` or uvicorn "
            "--no-proxy-headers, and list reverse proxies in GATEWAY_TRUSTED_PROXIES"
        )


def _client_id(hop: str) -> str:
    ip = _address(hop)
    return str(ip) if ip is not None else hop[:_MAX_ID_CHARS]

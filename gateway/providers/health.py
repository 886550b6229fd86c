"""Whether the model provider answers: what the gateway last heard from it, for ``/healthz``.

``ProviderHealth`` is fed by every provider call (``ProviderClient`` reports each outcome:
an HTTP answer under 500 means the provider is there; a refused or timed-out connection, or a
5xx, means it could not serve) and by a cheap probe, ``GET <api base>/models`` (the OpenAI
wire's model listing, which llama.cpp, vLLM, Ollama and hosted APIs serve). The probe runs at
start-up (the llm scorer's check) and, from ``/healthz``, in the background when nothing was heard
for ``health_interval_s``: no request ever waits on it. Without an API base there is no URL to
probe; the status then comes from calls alone.

State is one immutable ``ProviderStatus``, replaced whole (the start-up check writes it from the
loader thread's event loop, the server's loop reads it). Nothing here carries provider text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from gateway.config import ProviderSettings
from gateway.schemas import ProviderStatus

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class ProviderHealth:
    """The provider's reachability, from calls and probes."""

    def __init__(
        self,
        config: ProviderSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.config = config
        self._transport = transport  # tests may hand one in; default: httpx's own
        self._clock = clock
        self._status = ProviderStatus()
        self._probing: asyncio.Task[ProviderStatus] | None = None

    @property
    def probe_url(self) -> str | None:
        base = self.config.api_base
        return f"{base.rstrip('/')}/models" if base else None

    def snapshot(self) -> ProviderStatus:
        return self._status

    # -- what calls report ------------------------------------------------------------------------

    def answered(self) -> None:
        """The provider answered (any HTTP status under 500)."""
        now = self._clock()
        self._status = ProviderStatus(reachable=True, last_seen_at=now, checked_at=now)

    def failed(self, reason: str) -> None:
        """The provider could not serve: no connection, no answer in time, or a 5xx."""
        self._status = ProviderStatus(
            reachable=False,
            last_seen_at=self._status.last_seen_at,
            checked_at=self._clock(),
            error=reason,
        )

    # -- probing ----------------------------------------------------------------------------------

    def stale(self) -> bool:
        checked = self._status.checked_at
        if checked is None:
            return True
        return (self._clock() - checked).total_seconds() >= self.config.health_interval_s

    async def probe(self) -> ProviderStatus:
        """``GET <api base>/models`` once, bounded by the connect timeout; the new status."""
        url = self.probe_url
        if url is None:
            return self._status
        headers = {}
        if self.config.api_key is not None:
            headers["Authorization"] = f"Bearer {self.config.api_key.get_secret_value()}"
        timeout = httpx.Timeout(self.config.connect_timeout_s)
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=timeout) as client:
                response = await client.get(url, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self.failed(type(exc).__name__)
            log.warning("provider probe failed: %s", type(exc).__name__)
            return self._status
        if response.status_code >= 500:
            self.failed(f"HTTP {response.status_code}")
        else:
            self.answered()  # a 401 or 404 is an answer: the server is there
        return self._status

    def refresh_soon(self) -> None:
        """Probe in the background if the status is stale and no probe is running; returns at
        once. Call it from a coroutine (it needs the running loop)."""
        if self.probe_url is None or not self.stale():
            return
        if self._probing is not None and not self._probing.done():
            return
        self._probing = asyncio.get_running_loop().create_task(self.probe())

    async def aclose(self) -> None:
        """Cancel a background probe still running (app shutdown)."""
        task, self._probing = self._probing, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

"""Outbound calls to a helpdesk or Slack: one ``httpx.AsyncClient`` built at start-up, retries
with tenacity on 429, 5xx and transport errors, honouring ``Retry-After``.

After the last try the call raises ``HelpdeskUnavailableError`` (the job is retried later, then
kept as failed); a 4xx other than 429 (and 409, a concurrent edit) is ``HelpdeskRejectedError``:
trying again will not help. Errors name the method, path and status, never a body.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from gateway.errors import HelpdeskRejectedError, HelpdeskUnavailableError

_TRANSIENT = {409, 429, 500, 502, 503, 504}


class _TransientError(Exception):
    def __init__(self, what: str, retry_after_s: float | None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after_s = retry_after_s


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Api:
    """Calls to one API root with fixed headers (auth), retried as the module says."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        attempts: int = 4,
        backoff_s: float = 0.5,
        retry_after_max_s: float = 30.0,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.auth = httpx.BasicAuth(*auth) if auth is not None else None
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.retry_after_max_s = retry_after_max_s

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, _TransientError) and exc.retry_after_s is not None:
            return float(exc.retry_after_s)
        jitter = 0.5 + random.random()  # noqa: S311  # spreading retries, not cryptography
        return float(self.backoff_s * 2.0 ** (state.attempt_number - 1) * jitter)

    async def call(self, method: str, path: str, *, json: Any = None) -> Any:
        """The JSON the API answered (None for an empty body)."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        what = f"{method} {httpx.URL(url).path}"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_TransientError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, url, what, json)
        except _TransientError as exc:
            raise HelpdeskUnavailableError(
                f"{exc.what} still failing after {self.attempts} tries", exc.retry_after_s
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, url: str, what: str, body: Any) -> Any:
        try:
            resp = await self.client.request(
                method,
                url,
                json=body,
                headers=self.headers,
                auth=self.auth or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise _TransientError(f"{what}: {type(exc).__name__}", None) from exc
        if resp.status_code in _TRANSIENT:
            wait = retry_after(resp.headers.get("retry-after"))
            if wait is not None and wait > self.retry_after_max_s:
                # too long to wait inside a job run: the job is rescheduled after it instead
                raise HelpdeskUnavailableError(
                    f"{what}: {resp.status_code}, Retry-After {wait:.0f} s", wait
                )
            raise _TransientError(f"{what}: {resp.status_code}", wait)
        if resp.status_code >= 400:
            raise HelpdeskRejectedError(f"{what}: {resp.status_code}")
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            return None  # Slack answers "ok" as text

"""Provider faults: which are worth retrying, how long the provider asks us to wait, and how each
becomes an error of the gateway's tree (gateway.errors).

Messages name the model, the status and the exception class, never provider text (which can
echo the ticket).
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx
import openai
from instructor.core import ResponseParsingError
from litellm.exceptions import ContentPolicyViolationError, ContextWindowExceededError
from pydantic import ValidationError

from gateway.errors import (
    ContextTooLongError,
    GatewayError,
    ProviderError,
    ProviderUnavailableError,
)

_NOT_TRANSIENT = (
    openai.BadRequestError,  # includes litellm's ContextWindowExceeded, ContentPolicy, params
    openai.AuthenticationError,
    openai.PermissionDeniedError,
    openai.NotFoundError,
    openai.UnprocessableEntityError,
)
_TRANSIENT = (
    openai.APIConnectionError,  # includes openai.APITimeoutError and litellm.Timeout
    httpx.TransportError,
    TimeoutError,
    ConnectionError,
)

# What instructor re-asks on: the reply did not parse or validate.
INVALID_OUTPUT = (ValidationError, json.JSONDecodeError, ResponseParsingError)


class DeadlineError(Exception):
    """The request's deadline is spent (internal: becomes a ProviderUnavailableError)."""


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: rate limits, server faults, timeouts and broken connections."""
    if isinstance(exc, _NOT_TRANSIENT):
        return False
    if isinstance(exc, _TRANSIENT):
        return True
    status = status_of(exc)
    return status is not None and (status in (408, 409, 425, 429) or status >= 500)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (litellm wraps the OpenAI SDK's error, which wraps httpx's)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_read_timeout(exc: BaseException) -> bool:
    """A timeout after the request was sent: the server may still be working on it.

    httpx tells the phases apart (``ConnectTimeout``/``PoolTimeout``: nothing was sent;
    ``ReadTimeout``/``WriteTimeout``: it was, or partly). A timeout whose phase is not known
    (a provider SDK's own timer) counts as a read timeout: assuming the request arrived is the
    safe side, for a retry would then be a second copy of it.
    """
    chain = _chain(exc)
    if any(isinstance(e, httpx.ConnectTimeout | httpx.PoolTimeout) for e in chain):
        return False
    if any(isinstance(e, httpx.ReadTimeout | httpx.WriteTimeout) for e in chain):
        return True
    return isinstance(exc, openai.APITimeoutError | TimeoutError)


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` / ``retry-after-ms`` header on a provider error, if any."""
    candidates: list[Any] = [getattr(exc, "litellm_response_headers", None)]
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        candidates.append(response.headers)
    for headers in candidates:
        if not headers:
            continue
        try:
            ms = headers.get("retry-after-ms")
            if ms is not None:
                return max(float(ms) / 1000, 0.0)
            value = headers.get("retry-after")
        except (AttributeError, TypeError, ValueError):
            continue
        if value is None:
            continue
        try:
            return max(float(value), 0.0)
        except ValueError:
            when = email.utils.parsedate_to_datetime(str(value))  # HTTP-date form
            if when is not None:
                return max(when.timestamp() - time.time(), 0.0)
    return None


def translate(exc: BaseException, model: str) -> GatewayError:
    """A provider exception as a gateway error; the message never carries provider text."""
    if isinstance(exc, GatewayError):
        return exc
    kind = type(exc).__name__
    status = status_of(exc)
    # litellm maps some statuses to its generic APIError: look at the status as well as the class
    if isinstance(exc, openai.AuthenticationError) or status == 401:
        return ProviderError(
            f"the provider rejected the credentials for model {model!r} (401): set the provider's "
            "API key (e.g. OPENAI_API_KEY) for the gateway, or check GATEWAY_API_BASE"
        )
    if isinstance(exc, openai.PermissionDeniedError) or status == 403:
        return ProviderError(f"the provider denied access to model {model!r} (403)")
    if isinstance(exc, openai.NotFoundError) or status == 404:
        return ProviderError(f"model {model!r} was not found at the provider (404)")
    if isinstance(exc, ContextWindowExceededError):
        return ContextTooLongError(
            f"the prompt and the ticket exceed the context window of model {model!r}: send a "
            "shorter text (lower GATEWAY_MAX_TEXT_CHARS to refuse such tickets up front) or "
            "configure a model with a larger context window"
        )
    if isinstance(exc, ContentPolicyViolationError):
        return ProviderError(f"the provider's content policy refused the request ({model!r})")
    if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError) or status in (
        400,
        422,
    ):
        return ProviderError(f"the provider rejected the request for model {model!r} ({kind})")
    if is_transient(exc):
        return ProviderUnavailableError(f"model {model!r} is unavailable ({kind})")
    return ProviderError(f"the call to model {model!r} failed ({kind}, status {status})")

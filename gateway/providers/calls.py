"""The resilient call under every provider request: ``litellm.acompletion`` with retries on
transient faults, then the fallback models, inside the current request's budget.

* One call runs at temperature 0 with litellm's and the OpenAI SDK's own retries off
  (``num_retries=0``, ``max_retries=0``): tenacity (``retry``) is the only retry layer, for
  transient faults only (``faults``). When a model's retries are spent, the next of
  ``fallback_models`` is tried; then ``ProviderUnavailableError`` (503).
* Timeouts are httpx's, per phase: ``connect_timeout_s`` to open a connection, ``timeout_s`` to
  read the answer. A read timeout is not retried by default (see ``retry``), and no fallback
  model on the same server is tried after one: that server may still be working on the copy
  that timed out.
* Every outcome is reported to the observer (metrics) and, for the configured provider, to its
  ``ProviderHealth`` (``/healthz``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import litellm
import openai
from tenacity import RetryCallState

from gateway.config import ProviderSettings
from gateway.errors import ProviderError, ProviderUnavailableError
from gateway.providers.faults import (
    DeadlineError,
    is_read_timeout,
    is_transient,
    status_of,
    translate,
)
from gateway.providers.health import ProviderHealth
from gateway.providers.observer import ProviderObserver
from gateway.providers.retry import RequestBudget, current_request, retrying

log = logging.getLogger("gateway.providers.client")


class ResilientCaller:
    """What instructor calls, and what the logprob call uses: one request's provider calls."""

    def __init__(
        self, config: ProviderSettings, observer: ProviderObserver, health: ProviderHealth
    ) -> None:
        self.config = config
        self.observer = observer
        self.health = health
        self._primary_provider = config.primary.split("/", 1)[0]
        # litellm caches its HTTP clients by timeout: one fixed object, never a shrinking one
        # (the request's deadline is enforced with asyncio instead)
        self._timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)

    def deadline_error(self) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"no answer from the provider within the {self.config.deadline_s:g} s deadline"
        )

    def endpoint(self, model: str) -> str | None:
        """The configured API base, where it applies to ``model``; None: the provider's own.

        It belongs to the primary model's provider; a fallback on another provider
        (anthropic/... after openai/...) uses its own endpoint.
        """
        if self.config.api_base and model.split("/", 1)[0] == self._primary_provider:
            return self.config.api_base
        return None

    async def complete(self, **kwargs: Any) -> litellm.ModelResponse:
        request = current_request.get()
        if request is None:  # only reachable through the client's public calls
            raise RuntimeError("provider call outside a request")
        kwargs.pop("model", None)
        kwargs = _strict_schema(kwargs)
        # After a fallback answered, re-asks of the same request go straight to it.
        start = request.models.index(request.answered_by) if request.answered_by else 0
        last: BaseException | None = None
        busy: set[str] = set()  # servers that read-timed out: maybe still on the first copy
        for model in request.models[start:]:
            if request.remaining() <= 0:
                break
            endpoint = self.endpoint(model)
            if endpoint is not None and endpoint in busy:
                log.warning("not falling back to %s: its server timed out on this request", model)
                continue
            try:
                response = await self._with_retries(model, kwargs, request)
            except DeadlineError:
                break
            except Exception as exc:  # translated right here
                if not is_transient(exc):
                    raise translate(exc, model) from exc
                last = exc
                if endpoint is not None and is_read_timeout(exc):
                    busy.add(endpoint)
                log.warning(
                    "model %s unavailable after retries (%s); %s",
                    model,
                    type(exc).__name__,
                    "trying the next fallback" if model != request.models[-1] else "giving up",
                )
                if model != request.models[-1]:
                    self.observer.fallback(model, request.models[request.models.index(model) + 1])
                continue
            request.answered_by = model
            return response
        if last is None or request.remaining() <= 0:
            raise self.deadline_error()
        tried = list(request.models[start:])
        if is_read_timeout(last):
            raise ProviderUnavailableError(
                f"no answer within the {self.config.timeout_s:g} s read timeout (models {tried}); "
                "not retried at once: the server may still be working on the request"
            ) from last
        raise ProviderUnavailableError(
            f"every model failed on transient faults: {tried} (last: {type(last).__name__})"
        ) from last

    async def _with_retries(
        self, model: str, kwargs: dict[str, Any], request: RequestBudget
    ) -> litellm.ModelResponse:
        attempts = retrying(
            self.config.retry, request, lambda state: self._before_retry(model, state)
        )
        async for attempt in attempts:
            with attempt:
                remaining = request.remaining()
                if remaining <= 0:
                    raise DeadlineError
                limit = asyncio.timeout(remaining)
                try:
                    async with limit:
                        response = await self._call_litellm(model, kwargs)
                except TimeoutError:
                    self.observer.call(model, "timeout")
                    if limit.expired():
                        raise DeadlineError from None
                    self._report(model, "TimeoutError")
                    raise
                except Exception as exc:
                    timed_out = isinstance(exc, openai.APITimeoutError)
                    self.observer.call(model, "timeout" if timed_out else "error")
                    self._report(model, _unavailable_reason(exc))
                    raise
                self.observer.call(model, "ok")
                self._report(model, None)
                cost = request.account(response)
                if cost:
                    self.observer.cost(model, cost)
                return response
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _report(self, model: str, unavailable: str | None) -> None:
        """Tell the health tracker, for models of the configured provider."""
        if model.split("/", 1)[0] != self._primary_provider:
            return
        if unavailable is None:
            self.health.answered()
        else:
            self.health.failed(unavailable)

    def _before_retry(self, model: str, state: RetryCallState) -> None:
        self.observer.retry(model)
        log.info(
            "transient provider fault on %s (attempt %d, %s); retrying in %.2f s",
            model,
            state.attempt_number,
            type(state.outcome.exception()).__name__ if state.outcome else "?",
            state.upcoming_sleep,
        )

    async def _call_litellm(self, model: str, kwargs: dict[str, Any]) -> litellm.ModelResponse:
        extra: dict[str, Any] = {}
        endpoint = self.endpoint(model)
        if endpoint is not None:
            extra["api_base"] = endpoint
        if self.config.api_key is not None:
            extra["api_key"] = self.config.api_key.get_secret_value()
        if "logprobs" not in kwargs:
            # reasoning models reject temperature=0; dropping it beats failing the request
            extra["drop_params"] = True
        response = await litellm.acompletion(
            model=model,
            temperature=0,
            timeout=self._timeout,
            num_retries=0,  # tenacity above is the only retry layer
            max_retries=0,  # ... and the OpenAI SDK must not retry underneath litellm either
            **extra,
            **kwargs,
        )
        if not isinstance(response, litellm.ModelResponse):
            raise ProviderError("unexpected streaming response from litellm")
        return response


def _unavailable_reason(exc: BaseException) -> str | None:
    """Why a failed call says the provider could not serve (None: it answered, e.g. a 4xx)."""
    status = status_of(exc)
    if status is not None and status < 500:
        return None
    if status is not None:
        return f"HTTP {status}"
    if not is_transient(exc):
        return None  # a client-side refusal (bad parameters): nothing about the server
    return "ReadTimeout" if is_read_timeout(exc) else type(exc).__name__


def _strict_schema(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A native JSON-schema request made strict (constrained decoding where the provider has
    it): instructor's JSON_SCHEMA mode leaves ``strict`` out. The response models qualify:
    every field required, ``additionalProperties: false`` on every object."""
    response_format = kwargs.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return kwargs
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or "strict" in spec:
        return kwargs
    return {
        **kwargs,
        "response_format": {**response_format, "json_schema": {**spec, "strict": True}},
    }

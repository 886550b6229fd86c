"""The one seam to model providers: litellm underneath, instructor for structured output.

Built once at start-up from ``ProviderSettings`` and shared by every scorer.

* One call = ``litellm.acompletion`` at temperature 0, with litellm's and the OpenAI SDK's own
  retries switched off (``num_retries=0``, ``max_retries=0``) so that tenacity here is the only
  retry layer: transient faults (429, 5xx, timeouts, connection errors) are retried with jittered
  exponential backoff, honouring ``Retry-After``; 400/401/403/404/422 and context-length errors
  are not. When a model's retries are spent, the next of ``fallback_models`` is tried; then
  ``ProviderUnavailableError`` (503). Everything runs inside one deadline per request.
* Structured output: ``instructor.from_litellm`` wraps that resilient call, so a re-ask after
  invalid output is itself retried and may fall back, and the re-ask conversation survives a 429.
* Errors are translated here into the gateway's tree. Their messages name the model, the status
  and the exception class, never provider text (which can echo the ticket).
"""

from __future__ import annotations

import os

# litellm downloads its model cost map from GitHub at import time unless told not to; the gateway
# must start with no network, so this is set before the first import of litellm.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import asyncio
import contextvars
import email.utils
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx
import instructor
import litellm
import openai
from instructor.core import (
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
    ResponseParsingError,
)
from litellm.exceptions import (
    ContentPolicyViolationError,
    ContextWindowExceededError,
)
from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from gateway.config import ProviderSettings
from gateway.errors import (
    GatewayError,
    ProviderError,
    ProviderUnavailableError,
)
from gateway.providers import tuning as provider_tuning
from gateway.providers.prompts import ChatMessage
from gateway.schemas import Usage

log = logging.getLogger(__name__)

# No "Give Feedback / Get Help" banners on stdout, no callbacks, no litellm-level retries.
litellm.suppress_debug_info = True
litellm.num_retries = None
litellm.callbacks = []
# instructor logs failed attempts at ERROR with the model's output and validation input values in
# the message; the gateway logs its own events without content instead.
logging.getLogger("instructor").setLevel(logging.CRITICAL)

M = TypeVar("M", bound=BaseModel)

# Per-call instructor and litellm work skipped or done once (see gateway/provider_tuning.py).
provider_tuning.apply()

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
_INVALID_OUTPUT = (ValidationError, json.JSONDecodeError, ResponseParsingError)


CallOutcome = Literal["ok", "error", "timeout"]


class ProviderObserver(Protocol):
    """Where provider events go (metrics); nothing here carries request content."""

    def call(self, model: str, outcome: CallOutcome) -> None: ...

    def retry(self, model: str) -> None: ...

    def fallback(self, from_model: str, to_model: str) -> None: ...

    def cost(self, model: str, usd: float) -> None: ...


class NullObserver:
    def call(self, model: str, outcome: CallOutcome) -> None:
        return None

    def retry(self, model: str) -> None:
        return None

    def fallback(self, from_model: str, to_model: str) -> None:
        return None

    def cost(self, model: str, usd: float) -> None:
        return None


class TokenLogprob(BaseModel):
    token: str
    logprob: float


class LogprobCompletion(BaseModel):
    """The first generated token and its alternatives."""

    content: str
    top_logprobs: list[TokenLogprob]
    model: str
    usage: Usage


@dataclass(frozen=True)
class Structured(Generic[M]):
    value: M
    model: str  # the model that answered: the primary or a fallback
    usage: Usage  # summed over every call of the request (re-asks included)
    calls: int


# --------------------------------------------------------------------------- error handling


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: rate limits, server faults, timeouts and broken connections."""
    if isinstance(exc, _NOT_TRANSIENT):
        return False
    if isinstance(exc, _TRANSIENT):
        return True
    status = _status(exc)
    return status is not None and (status in (408, 409, 425, 429) or status >= 500)


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
    status = _status(exc)
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
        return ProviderError(
            f"prompt and ticket exceed the context window of model {model!r}; "
            "shorten the text or configure a larger model"
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


class _DeadlineError(Exception):
    pass


# --------------------------------------------------------------------------- per-request state


@dataclass
class _Request:
    """What one gateway request has spent so far (shared by instructor's re-asks)."""

    models: tuple[str, ...]
    deadline_at: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    answered_by: str | None = None

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()

    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost_usd=self.cost_usd,
        )


# A ContextVar, not an argument: instructor owns the call signature between us and litellm.
_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "gateway_provider_request", default=None
)


def _cost(response: litellm.ModelResponse) -> float:
    """litellm prices every response from its bundled cost map while it builds it; unknown or
    self-hosted models come back unpriced and cost 0."""
    hidden = getattr(response, "_hidden_params", None)
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(cost, int | float) and math.isfinite(cost) and cost >= 0:
        return float(cost)
    return 0.0


class _StopAtDeadline(stop_base):
    """Stop when the next backoff would end past the request's deadline.

    tenacity computes the upcoming sleep before it asks ``stop``, so this never sleeps in vain.
    """

    def __init__(self, request: _Request) -> None:
        self.request = request

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep >= self.request.remaining()


class ProviderClient:
    """Async client for one configured model chain (primary + fallbacks)."""

    def __init__(self, config: ProviderSettings, observer: ProviderObserver | None = None) -> None:
        self.config = config
        self._primary = config.primary
        self.observer: ProviderObserver = observer or NullObserver()
        mode = {"json": instructor.Mode.JSON, "json_schema": instructor.Mode.JSON_SCHEMA}[
            config.structured_mode
        ]
        # instructor never sees litellm directly: it calls our resilient wrapper, which calls
        # litellm.acompletion. No `context=` is ever passed, so instructor renders no Jinja on
        # the (ticket-bearing) messages.
        self._instructor = instructor.from_litellm(self._acompletion, mode=mode, async_client=True)
        self._primary_provider = self._primary.split("/", 1)[0]
        if not get_model_cost_map_source_info()["is_env_forced"]:
            log.warning(
                "litellm was imported before gateway.providers and may have fetched its cost map "
                "from the internet; set LITELLM_LOCAL_MODEL_COST_MAP=True before importing it"
            )

    @property
    def model(self) -> str:
        return self._primary

    def chain(self, model: str | None = None) -> tuple[str, ...]:
        """Models to try in order: the primary (or a per-request override), then fallbacks."""
        first = model or self._primary
        return (first, *(m for m in self.config.fallback_models if m != first))

    def supports_logprobs(self, model: str | None = None) -> bool | None:
        """What litellm's tables say (None: unknown, ask the model)."""
        try:
            params = litellm.get_supported_openai_params(model=model or self._primary)
        except Exception:  # unknown provider/model: no static answer
            return None
        return None if params is None else "logprobs" in params

    async def warm_up(self) -> None:
        """Load litellm's lazily imported call path at start-up (first call: ~1 s otherwise).

        Uses litellm's ``mock_response``: nothing leaves the process.
        """
        await litellm.acompletion(
            model=self._primary,
            messages=[{"role": "user", "content": "warm-up"}],
            mock_response="ok",
        )

    # -- public calls ----------------------------------------------------------------------------

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        response_model: type[M],
        *,
        max_reasks: int,
        model: str | None = None,
    ) -> Structured[M]:
        """A validated ``response_model`` instance; invalid output is re-asked up to max_reasks."""
        request = _Request(self.chain(model), time.monotonic() + self.config.deadline_s)
        token = _current.set(request)
        try:
            async with asyncio.timeout(self.config.deadline_s):
                value = await self._instructor.create(
                    response_model=response_model,
                    messages=[m.model_dump() for m in messages],  # type: ignore[misc]
                    max_retries=max_reasks,
                    model=request.models[0],
                )
        except InstructorRetryException as exc:
            cause = exc.__cause__
            if isinstance(cause, GatewayError):
                raise cause from None
            if isinstance(cause, _DeadlineError):
                raise self._deadline_error() from None
            if not isinstance(cause, _INVALID_OUTPUT):
                raise  # not the model's answer: a bug, which the API edge reports as a 500
            log.warning(
                "structured output invalid after %d attempt(s) (model=%s)",
                exc.n_attempts,
                request.answered_by,
            )
            raise ProviderError(
                f"model {request.answered_by or request.models[0]!r} returned invalid structured "
                f"output {exc.n_attempts} time(s); giving up after {max_reasks} re-ask(s)"
            ) from None
        except IncompleteOutputException:
            raise ProviderError(
                f"the answer of model {request.answered_by!r} was cut off (max tokens)"
            ) from None
        except (TimeoutError, _DeadlineError):
            raise self._deadline_error() from None
        except InstructorError as exc:
            raise ProviderError(f"structured output failed ({type(exc).__name__})") from None
        finally:
            _current.reset(token)
        return Structured(
            value=value,
            model=request.answered_by or request.models[0],
            usage=request.usage(),
            calls=request.calls,
        )

    async def logprobs(
        self,
        messages: Sequence[ChatMessage],
        *,
        top_logprobs: int,
        max_tokens: int = 1,
        model: str | None = None,
    ) -> LogprobCompletion:
        """One short completion with the first token's ``top_logprobs``."""
        request = _Request(self.chain(model), time.monotonic() + self.config.deadline_s)
        token = _current.set(request)
        try:
            async with asyncio.timeout(self.config.deadline_s):
                response = await self._acompletion(
                    messages=[m.model_dump() for m in messages],
                    logprobs=True,
                    top_logprobs=top_logprobs,
                    max_tokens=max_tokens,
                )
        except (TimeoutError, _DeadlineError):
            raise self._deadline_error() from None
        finally:
            _current.reset(token)
        choice = response.choices[0]
        content = getattr(choice.message, "content", None) or ""
        top: list[TokenLogprob] = []
        logprobs = getattr(choice, "logprobs", None)
        tokens = getattr(logprobs, "content", None) or []
        if tokens:
            top = [
                TokenLogprob(token=str(alt.token), logprob=float(alt.logprob))
                for alt in (getattr(tokens[0], "top_logprobs", None) or [])
            ]
        return LogprobCompletion(
            content=str(content),
            top_logprobs=top,
            model=request.answered_by or request.models[0],
            usage=request.usage(),
        )

    # -- the resilient call ----------------------------------------------------------------------

    def _deadline_error(self) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"no answer from the provider within the {self.config.deadline_s:g} s deadline"
        )

    async def _acompletion(self, **kwargs: Any) -> litellm.ModelResponse:
        """litellm.acompletion with retries on transient faults, then the fallback models."""
        request = _current.get()
        if request is None:  # only reachable through structured()/logprobs()
            raise RuntimeError("provider call outside a request")
        kwargs.pop("model", None)
        # After a fallback answered, re-asks of the same request go straight to it.
        start = request.models.index(request.answered_by) if request.answered_by else 0
        last: BaseException | None = None
        for model in request.models[start:]:
            if request.remaining() <= 0:
                break
            try:
                response = await self._with_retries(model, kwargs, request)
            except _DeadlineError:
                break
            except Exception as exc:  # translated right here
                if not is_transient(exc):
                    raise translate(exc, model) from None
                last = exc
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
            raise self._deadline_error()
        raise ProviderUnavailableError(
            f"every model failed on transient faults: {list(request.models[start:])} "
            f"(last: {type(last).__name__})"
        )

    async def _with_retries(
        self, model: str, kwargs: dict[str, Any], request: _Request
    ) -> litellm.ModelResponse:
        policy = self.config.retry
        jitter = wait_random_exponential(
            multiplier=policy.backoff_initial_s, max=policy.backoff_max_s
        )

        def wait(state: RetryCallState) -> float:
            backoff = float(jitter(state))
            exc = state.outcome.exception() if state.outcome else None
            hinted = retry_after_s(exc) if exc is not None else None
            if hinted is not None:
                return max(backoff, min(hinted, policy.retry_after_max_s))
            return backoff

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait,
            stop=stop_any(stop_after_attempt(policy.max_retries + 1), _StopAtDeadline(request)),
            before_sleep=lambda state: self._before_retry(model, state),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                remaining = request.remaining()
                if remaining <= 0:
                    raise _DeadlineError
                # A fixed per-call timeout: litellm caches its HTTP clients by timeout, so the
                # shrinking deadline is enforced with asyncio instead.
                limit = asyncio.timeout(remaining)
                try:
                    async with limit:
                        response = await self._call_litellm(model, kwargs)
                except TimeoutError:
                    self.observer.call(model, "timeout")
                    if limit.expired():
                        raise _DeadlineError from None
                    raise
                except Exception as exc:
                    timed_out = isinstance(exc, openai.APITimeoutError)
                    self.observer.call(model, "timeout" if timed_out else "error")
                    raise
                self.observer.call(model, "ok")
                self._account(request, model, response)
                return response
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

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
        # api_base belongs to the primary model's provider; a fallback on another provider
        # (anthropic/... after openai/...) uses its own endpoint.
        if self.config.api_base and model.split("/", 1)[0] == self._primary_provider:
            extra["api_base"] = self.config.api_base
        if self.config.api_key is not None:
            extra["api_key"] = self.config.api_key.get_secret_value()
        if "logprobs" not in kwargs:
            # reasoning models reject temperature=0; dropping it beats failing the request
            extra["drop_params"] = True
        with provider_tuning.litellm_logging_skipped():  # no litellm callbacks: metrics are ours
            response = await litellm.acompletion(
                model=model,
                temperature=0,
                timeout=self.config.timeout_s,
                num_retries=0,  # tenacity above is the only retry layer
                max_retries=0,  # ... and the OpenAI SDK must not retry underneath litellm either
                **extra,
                **kwargs,
            )
        if not isinstance(response, litellm.ModelResponse):
            raise ProviderError("unexpected streaming response from litellm")
        return response

    def _account(self, request: _Request, model: str, response: litellm.ModelResponse) -> None:
        request.calls += 1
        usage = getattr(response, "usage", None)
        request.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
        request.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        cost = _cost(response)
        request.cost_usd += cost
        if cost:
            self.observer.cost(model, cost)

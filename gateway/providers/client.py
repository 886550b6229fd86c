"""The one seam to model providers: litellm underneath, instructor for structured output.

Built once at start-up from ``ProviderSettings`` and shared by every scorer; building it
configures litellm and instructor (``tuning.configure_libraries``).

* One call = ``litellm.acompletion`` at temperature 0, with litellm's and the OpenAI SDK's own
  retries off (``num_retries=0``, ``max_retries=0``): tenacity (``retry``) is the only retry
  layer, for transient faults only (``faults``). When a model's retries are spent, the next of
  ``fallback_models`` is tried; then ``ProviderUnavailableError`` (503). Everything runs inside
  one deadline per request.
* Structured output: ``instructor.from_litellm`` wraps that resilient call, so a re-ask after
  invalid output is itself retried and may fall back, and the re-ask conversation survives a 429.
* Errors are translated into the gateway's tree (``faults.translate``), never carrying provider
  text (which can echo the ticket).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, TypeVar

import instructor
import litellm
import openai
from instructor.core import IncompleteOutputException, InstructorError, InstructorRetryException
from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info
from pydantic import BaseModel
from tenacity import RetryCallState

from gateway.config import ProviderSettings
from gateway.errors import GatewayError, ProviderError, ProviderUnavailableError
from gateway.providers.faults import INVALID_OUTPUT, DeadlineError, is_transient, translate
from gateway.providers.observer import NullObserver, ProviderObserver
from gateway.providers.prompts import ChatMessage
from gateway.providers.results import LogprobCompletion, Structured, first_token_alternatives
from gateway.providers.retry import RequestBudget, current_request, retrying
from gateway.providers.tuning import configure_libraries, litellm_logging_skipped

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class ProviderClient:
    """Async client for one configured model chain (primary + fallbacks)."""

    def __init__(self, config: ProviderSettings, observer: ProviderObserver | None = None) -> None:
        configure_libraries()  # start-up, not import: see gateway/providers/tuning.py
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
        self._instructor.on("parse:error", self._on_parse_error)
        self._primary_provider = self._primary.split("/", 1)[0]
        if not get_model_cost_map_source_info()["is_env_forced"]:
            log.warning(
                "litellm was imported before gateway and may have fetched its cost map from the "
                "internet; set LITELLM_LOCAL_MODEL_COST_MAP=True before importing it"
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
        request = RequestBudget(self.chain(model), time.monotonic() + self.config.deadline_s)
        token = current_request.set(request)
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
            if isinstance(cause, DeadlineError):
                raise self._deadline_error() from None
            if not isinstance(cause, INVALID_OUTPUT):
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
        except (TimeoutError, DeadlineError):
            raise self._deadline_error() from None
        except InstructorError as exc:
            raise ProviderError(f"structured output failed ({type(exc).__name__})") from None
        finally:
            current_request.reset(token)
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
        request = RequestBudget(self.chain(model), time.monotonic() + self.config.deadline_s)
        token = current_request.set(request)
        try:
            async with asyncio.timeout(self.config.deadline_s):
                response = await self._acompletion(
                    messages=[m.model_dump() for m in messages],
                    logprobs=True,
                    top_logprobs=top_logprobs,
                    max_tokens=max_tokens,
                )
        except (TimeoutError, DeadlineError):
            raise self._deadline_error() from None
        finally:
            current_request.reset(token)
        content, top = first_token_alternatives(response)
        return LogprobCompletion(
            content=content,
            top_logprobs=top,
            model=request.answered_by or request.models[0],
            usage=request.usage(),
        )

    # -- the resilient call ----------------------------------------------------------------------

    def _deadline_error(self) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"no answer from the provider within the {self.config.deadline_s:g} s deadline"
        )

    def _on_parse_error(self, error: Exception, **attempt: Any) -> None:
        """instructor's ``parse:error`` hook: a reply failed validation (and is re-asked)."""
        request = current_request.get()
        model = (request.answered_by or request.models[0]) if request else self._primary
        self.observer.invalid_output(model)

    async def _acompletion(self, **kwargs: Any) -> litellm.ModelResponse:
        """litellm.acompletion with retries on transient faults, then the fallback models."""
        request = current_request.get()
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
            except DeadlineError:
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
                # A fixed per-call timeout: litellm caches its HTTP clients by timeout, so the
                # shrinking deadline is enforced with asyncio instead.
                limit = asyncio.timeout(remaining)
                try:
                    async with limit:
                        response = await self._call_litellm(model, kwargs)
                except TimeoutError:
                    self.observer.call(model, "timeout")
                    if limit.expired():
                        raise DeadlineError from None
                    raise
                except Exception as exc:
                    timed_out = isinstance(exc, openai.APITimeoutError)
                    self.observer.call(model, "timeout" if timed_out else "error")
                    raise
                self.observer.call(model, "ok")
                cost = request.account(response)
                if cost:
                    self.observer.cost(model, cost)
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
        with litellm_logging_skipped():  # no litellm callbacks: metrics are ours
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

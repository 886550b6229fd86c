"""The one seam to model providers: litellm underneath, instructor for structured output.

Built once at start-up from ``ProviderSettings`` and shared by every scorer; building it
configures litellm and instructor (``tuning.configure_libraries``).

* Every call goes through ``calls.ResilientCaller``: retries of transient faults, the fallback
  models, connect and read timeouts, all inside one deadline per request.
* Structured output: instructor validates each answer against the response model, asked for in
  the strongest mode the answering model offers (``structured.resolve_mode``: native JSON schema
  or JSON mode) and bounded by ``max_tokens`` derived from the schema. Re-asks are the gateway's
  own loop, one instructor attempt each: the original conversation plus one correction (the
  invalid answer and what was wrong with it), never a growing transcript.
* Errors are translated into the gateway's tree (``faults.translate``), never carrying provider
  text (which can echo the ticket).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Sequence
from typing import Any, TypeVar

import instructor
import litellm
from instructor.core import IncompleteOutputException, InstructorError, InstructorRetryException
from pydantic import BaseModel

from gateway.config import ProviderSettings, StructuredMode
from gateway.errors import GatewayError, ProviderError
from gateway.providers.calls import ResilientCaller
from gateway.providers.faults import INVALID_OUTPUT, DeadlineError
from gateway.providers.health import ProviderHealth
from gateway.providers.observer import NullObserver, ProviderObserver
from gateway.providers.prompts import ChatMessage
from gateway.providers.results import (
    LogprobCompletion,
    Structured,
    first_token_alternatives,
    is_legacy_logprobs,
    token_positions,
)
from gateway.providers.retry import RequestBudget, current_request
from gateway.providers.structured import (
    answer_text,
    correction,
    output_token_budget,
    resolve_mode,
)
from gateway.providers.tuning import configure_libraries
from gateway.schemas import ProviderStatus

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

_INSTRUCTOR_MODES: dict[StructuredMode, instructor.Mode] = {
    "json": instructor.Mode.JSON,
    "json_schema": instructor.Mode.JSON_SCHEMA,
}


class ProviderClient:
    """Async client for one configured model chain (primary + fallbacks)."""

    def __init__(
        self,
        config: ProviderSettings,
        observer: ProviderObserver | None = None,
        health: ProviderHealth | None = None,
    ) -> None:
        configure_libraries()  # start-up, not import: see gateway/providers/tuning.py
        self.config = config
        self._primary = config.primary
        self.observer: ProviderObserver = observer or NullObserver()
        self.health = health or ProviderHealth(config)
        self._call = ResilientCaller(config, self.observer, self.health)
        # instructor never sees litellm directly: it calls the resilient caller, which calls
        # litellm.acompletion. No `context=` is ever passed, so instructor renders no Jinja on
        # the (ticket-bearing) messages.
        self._instructors = {
            mode: instructor.from_litellm(self._call.complete, mode=native, async_client=True)
            for mode, native in _INSTRUCTOR_MODES.items()
        }
        for client in self._instructors.values():
            client.on("parse:error", self._on_parse_error)
        self._modes: dict[str, StructuredMode] = {}
        # response model -> its max_tokens bound (rubric models are built once per rubric)
        self._budgets: weakref.WeakKeyDictionary[type[BaseModel], int] = weakref.WeakKeyDictionary()
        if os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "").strip().lower() != "true":
            log.warning(
                "LITELLM_LOCAL_MODEL_COST_MAP is not True: litellm may fetch its cost map from "
                "the internet; set it to True before litellm is imported (gateway does, unless "
                "it is set otherwise)"
            )

    @property
    def model(self) -> str:
        return self._primary

    def chain(self, model: str | None = None) -> tuple[str, ...]:
        """Models to try in order: the primary (or a per-request override), then fallbacks."""
        first = model or self._primary
        return (first, *(m for m in self.config.fallback_models if m != first))

    def structured_mode(self, model: str | None = None) -> StructuredMode:
        """How ``model``'s structured output is asked for (looked up once per model)."""
        model = model or self._primary
        mode = self._modes.get(model)
        if mode is None:
            mode = self._modes[model] = resolve_mode(self.config, model)
        return mode

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

    async def probe(self) -> ProviderStatus:
        """Whether the provider answers (``GET <api base>/models``); see ``health``."""
        return await self.health.probe()

    # -- public calls ----------------------------------------------------------------------------

    async def structured(
        self,
        messages: Sequence[ChatMessage],
        response_model: type[M],
        *,
        max_reasks: int,
        max_tokens: int | None = None,
        model: str | None = None,
        top_logprobs: int | None = None,
    ) -> Structured[M]:
        """A validated ``response_model`` instance; invalid output is re-asked up to max_reasks.

        ``max_tokens``: the bound on each answer; default ``structured_max_tokens``, else one
        derived from the response model's schema. ``top_logprobs``: also ask for each token's
        log-probability and that many alternatives (not sent to a model that litellm says has
        none); ``Structured.tokens`` carries them where the provider returned them.
        """
        limit = (
            max_tokens or self.config.structured_max_tokens or self._token_budget(response_model)
        )
        request = RequestBudget(self.chain(model), time.monotonic() + self.config.deadline_s)
        token = current_request.set(request)
        attempts = max_reasks + 1
        follow_up: list[dict[str, str]] = []
        try:
            async with asyncio.timeout(self.config.deadline_s):
                for attempt in range(1, attempts + 1):
                    answering = request.answered_by or request.models[0]
                    mode = self.structured_mode(answering)
                    extra = self._logprob_args(answering, top_logprobs)
                    try:
                        value, completion = await self._instructors[mode].create_with_completion(
                            response_model=response_model,
                            messages=[*(m.model_dump() for m in messages), *follow_up],  # type: ignore[list-item]
                            max_retries=0,  # one attempt: re-asks are this loop's
                            model=answering,
                            max_tokens=limit,
                            **extra,
                        )
                    except InstructorRetryException as exc:
                        invalid = self._invalid_output(exc)
                        self.observer.structured(request.answered_by or answering, mode, False)
                        follow_up = correction(
                            answer_text(exc.last_completion), invalid, attempt + 1, attempts
                        )
                        continue
                    answered_by = request.answered_by or answering
                    self.observer.structured(answered_by, mode, True)
                    return Structured(
                        value=value,
                        model=answered_by,
                        usage=request.usage(),
                        calls=request.calls,
                        mode=mode,
                        content=answer_text(completion),
                        tokens=token_positions(completion) if extra else None,
                    )
            log.warning(
                "structured output invalid after %d attempt(s) (model=%s)",
                attempts,
                request.answered_by,
            )
            raise ProviderError(
                f"model {request.answered_by or request.models[0]!r} returned invalid structured "
                f"output {attempts} time(s); giving up after {max_reasks} re-ask(s)"
            )
        except IncompleteOutputException as exc:
            raise ProviderError(
                f"the answer of model {request.answered_by!r} was cut off at max_tokens={limit} "
                "(GATEWAY_STRUCTURED_MAX_TOKENS sets the bound)"
            ) from exc
        except (TimeoutError, DeadlineError) as exc:
            raise self._call.deadline_error() from exc
        except InstructorRetryException:
            raise  # not the model's answer (``_invalid_output``): a bug, reported as a 500
        except InstructorError as exc:
            raise ProviderError(f"structured output failed ({type(exc).__name__})") from exc
        finally:
            current_request.reset(token)

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
                response = await self._call.complete(
                    messages=[m.model_dump() for m in messages],
                    logprobs=True,
                    top_logprobs=top_logprobs,
                    max_tokens=max_tokens,
                )
        except (TimeoutError, DeadlineError) as exc:
            raise self._call.deadline_error() from exc
        finally:
            current_request.reset(token)
        content, top = first_token_alternatives(response)
        return LogprobCompletion(
            content=content,
            top_logprobs=top,
            legacy_logprobs=is_legacy_logprobs(response),
            model=request.answered_by or request.models[0],
            usage=request.usage(),
        )

    def _logprob_args(self, model: str, top_logprobs: int | None) -> dict[str, Any]:
        if not top_logprobs or self.supports_logprobs(model) is False:
            return {}
        return {"logprobs": True, "top_logprobs": min(top_logprobs, 20)}  # 20: OpenAI's most

    def _token_budget(self, response_model: type[BaseModel]) -> int:
        """``output_token_budget`` of the model's schema, worked out once per model class."""
        budget = self._budgets.get(response_model)
        if budget is None:
            budget = output_token_budget(response_model.model_json_schema())
            self._budgets[response_model] = budget
        return budget

    # -- instructor's side -------------------------------------------------------------------------

    def _invalid_output(self, exc: InstructorRetryException) -> BaseException:
        """The validation error behind a failed attempt; anything else is raised as it is."""
        cause = exc.__cause__
        if isinstance(cause, GatewayError):
            raise cause  # translated at the seam, with its own cause
        if isinstance(cause, DeadlineError):
            raise self._call.deadline_error() from cause
        if not isinstance(cause, INVALID_OUTPUT):
            raise exc  # not the model's answer: a bug, which the API edge reports as a 500
        return cause

    def _on_parse_error(self, error: Exception, **attempt: Any) -> None:
        """instructor's ``parse:error`` hook: a reply failed validation (and is re-asked)."""
        request = current_request.get()
        model = (request.answered_by or request.models[0]) if request else self._primary
        self.observer.invalid_output(model)

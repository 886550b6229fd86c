"""How the gateway sets up litellm and instructor: all in one place, and nothing at import.

``configure_libraries()`` puts everything below in place; ``ProviderClient`` calls it when it is
built (start-up), and calling it again changes nothing. Importing this module, or any module of
``gateway.providers``, leaves both libraries as they are (tests/providers/test_provider_tuning.py
checks that in a fresh process).

Settings, through the libraries' public API:

* litellm's "Give Feedback / Get Help" banner off (``litellm.suppress_debug_info``).
* no litellm-level retries (``litellm.num_retries`` unset): tenacity in the client is the only
  retry layer.
* instructor's own log lines off: they carry the model's output; the gateway logs its own events
  without content, and counts invalid output through instructor's per-client ``parse:error`` hook
  (see ``ProviderClient``).

Per-call work that the gateway skips or does once, each measured with
``bench/provider_overhead.py`` (gateway overhead around a provider call) and written against the
versions pinned in pyproject.toml (instructor 1.17, litellm 1.106). These reach into the
libraries, as little as they can; if a library moves what they touch, they degrade to doing
nothing (the per-call work simply stays). Tests (tests/providers/test_provider_tuning.py,
tests/providers/test_providers.py) check that each is in effect and changes nothing the provider
or the caller sees.

* instructor's async-validator audit of the response model, once per model class.
* instructor's JSON-mode instruction (the response model's JSON schema, indented, in the system
  message), rendered once per model class instead of on every call.
* litellm's success/failure logging pipeline, skipped while no litellm callback is registered.
"""

from __future__ import annotations

import contextvars
import logging
import weakref
from functools import lru_cache
from types import ModuleType, TracebackType
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)


def configure_libraries() -> None:
    """Configure litellm and instructor for the gateway (idempotent). Imports both: call it at
    start-up, after ``gateway`` has set ``LITELLM_LOCAL_MODEL_COST_MAP`` (gateway/__init__.py)."""
    import litellm

    litellm.suppress_debug_info = True  # no banners on stdout next to the JSON logs
    # litellm reads `num_retries or litellm.num_retries`: the client's per-call 0 falls back to
    # this global, so it must stay unset for tenacity to be the only retry layer.
    litellm.num_retries = None
    # instructor logs failed attempts at ERROR with the model's output and validation input in
    # the message itself (f-strings: there are no arguments a filter could withhold).
    logging.getLogger("instructor").setLevel(logging.CRITICAL)

    memoize_async_validator_check()  # internals: ~3-5 ms a call
    cache_json_mode_instruction()  # instructor's registry, process-wide: ~0.5 ms a call
    _litellm_logging_switch()  # internals: ~1-2 ms a call; looked up now so a miss shows at start


# --------------------------------------------------------------------------- instructor


def memoize_async_validator_check() -> None:
    """Make instructor's per-call response-model audit run once per model class.

    instructor walks the whole class tree of the response model (every MRO member of every
    nested model) about five times per call, to refuse async validators it cannot run. For the
    gateway's nested rubric models that is 3-5 ms a call, a third of the measured overhead
    (bench/provider_overhead.py), and the answer for a class never changes. instructor has no
    setting or hook for it, so this replaces the function in instructor's modules. Only classes
    that passed are remembered, so a model with async validators is still refused every time. If
    instructor moves the function, this does nothing and the check simply stays uncached.
    """
    import instructor.v2.core.patch as patch_module
    import instructor.v2.validation.async_validators as validators

    original = validators.reject_async_validators
    if getattr(original, "_gateway_memoized", False):
        return
    passed: weakref.WeakSet[type] = weakref.WeakSet()

    def reject_async_validators(response_model: Any) -> None:
        if isinstance(response_model, type) and response_model in passed:
            return
        original(response_model)
        if isinstance(response_model, type):
            passed.add(response_model)

    reject_async_validators._gateway_memoized = True  # type: ignore[attr-defined]
    # most callers import it from its module at call time; patch.py imported it at load time
    for module in (validators, patch_module):
        if getattr(module, "reject_async_validators", None) is original:
            module.reject_async_validators = reject_async_validators  # type: ignore[attr-defined]


def cache_json_mode_instruction() -> None:
    """Register an instructor JSON-mode handler that renders the schema instruction once per model.

    instructor's JSON mode appends "... match the following json_schema: <schema>" to the system
    message on every call, and renders it with ``json.dumps(indent=2)`` (Python's pure-Python
    encoder: ~500 calls for a rubric model) and ``textwrap.dedent``: about 0.5 ms a call, for a
    text that only depends on the response model. This handler asks instructor's own handler for
    that text once per model class (so the wording stays instructor's) and appends it the same
    way. Any request it does not recognise as the plain case (streaming, no leading system message
    with text content, no response model) goes to instructor's handler unchanged.

    Registered with ``instructor.v2.register_mode_handler``, instructor's extension point for mode
    handlers. Its registry is process-wide (instructor 1.17 has no per-client handlers), so every
    OpenAI JSON-mode client in the process gets this handler; what they send is unchanged.
    """
    from instructor import Mode
    from instructor.v2 import mode_registry, register_mode_handler
    from instructor.v2.core.messages import copy_messages_for_mutation, merge_consecutive_messages
    from instructor.v2.core.providers import Provider

    # importing the module registers instructor's own OpenAI handlers; ours replaces one after
    from instructor.v2.providers.openai.handlers import OpenAIJSONHandler

    current = mode_registry.get_handlers(Provider.OPENAI, Mode.JSON).request_handler
    if getattr(getattr(current, "__self__", None), "_gateway_cached", False):
        return

    class CachedInstructionJSONHandler(OpenAIJSONHandler):
        _gateway_cached = True

        def __init__(self) -> None:
            super().__init__()
            self._instructions: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()

        def instruction(self, response_model: type[BaseModel]) -> str:
            """What instructor appends to the system message for this model."""
            text = self._instructions.get(response_model)
            if text is None:
                _, probe = super().prepare_request(response_model, {"messages": []})
                text = str(probe["messages"][0]["content"])
                self._instructions[response_model] = text
            return text

        def prepare_request(
            self, response_model: type[BaseModel] | None, kwargs: dict[str, Any]
        ) -> tuple[type[BaseModel] | None, dict[str, Any]]:
            messages = kwargs.get("messages")
            if (
                not isinstance(response_model, type)
                or kwargs.get("stream")
                or not isinstance(messages, list)
                or not messages
                or not isinstance(messages[0], dict)
                or messages[0].get("role") != "system"
                or not isinstance(messages[0].get("content"), str)
            ):
                return super().prepare_request(response_model, kwargs)
            new_kwargs = kwargs.copy()
            new_kwargs["response_format"] = {"type": "json_object"}
            copied = copy_messages_for_mutation(messages)
            copied[0]["content"] += f"\n\n{self.instruction(response_model)}"
            new_kwargs["messages"] = merge_consecutive_messages(copied)
            return response_model, new_kwargs

    register_mode_handler(Provider.OPENAI, Mode.JSON)(CachedInstructionJSONHandler)


# --------------------------------------------------------------------------- litellm

_LITELLM_CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "service_callback",
    "_async_input_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


@lru_cache(maxsize=1)
def _litellm_logging_switch() -> tuple[ModuleType, contextvars.ContextVar[bool]] | None:
    """litellm and its private ``is_internal_call`` flag; None if litellm moved it.

    Looked up on first use, not at import: this module must not be the one that imports litellm
    first (its cost map must be read from the package, which gateway/__init__.py arranges).
    """
    import litellm

    try:
        from litellm._internal_context import is_internal_call
    except ImportError:  # moved: logging simply stays on
        log.warning("litellm._internal_context.is_internal_call not found; litellm logs every call")
        return None
    return litellm, is_internal_call


class litellm_logging_skipped:  # noqa: N801  (used like a function: `with litellm_logging_skipped():`)
    """Skip litellm's success/failure logging for the calls made inside, while nothing listens.

    After every call litellm builds a "standard logging payload" (another pass over the request
    and the response, model-info lookups) in a background task, and on every failed attempt runs
    its failure handlers: ~1-2 ms of CPU a call, for callbacks the gateway never registers (it
    keeps its own metrics). litellm 1.106 has no setting for this; its own nested calls skip it
    with the private ``is_internal_call`` context variable, which is what this sets, for the
    duration of the call only. Nothing that reaches the caller changes: the response, its usage
    and ``_hidden_params["response_cost"]`` are built before the logging step, and exceptions are
    raised the same way. If any litellm callback is registered (``litellm.callbacks``,
    ``success_callback``...), logging runs as usual.
    """

    __slots__ = ("_flag", "_token")

    def __init__(self) -> None:
        self._flag: contextvars.ContextVar[bool] | None = None
        self._token: contextvars.Token[bool] | None = None

    def __enter__(self) -> None:
        switch = _litellm_logging_switch()
        if switch is None:
            return
        litellm, flag = switch
        if not any(getattr(litellm, name, None) for name in _LITELLM_CALLBACK_LISTS):
            self._flag, self._token = flag, flag.set(True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._flag is not None and self._token is not None:
            self._flag.reset(self._token)
            self._flag = self._token = None

"""Model providers: the client (litellm + instructor), prompt templates and what they return.

    client         ProviderClient: structured and logprob calls, re-asks, one deadline per request
    calls          the resilient call: retries, fallbacks, connect and read timeouts
    faults         provider exceptions: transient or not, read timeouts, Retry-After, gateway errors
    retry          a request's budget and the tenacity retry policy
    structured     structured-output mode per model, max_tokens from the schema, re-ask messages
    health         ProviderHealth: reachability from calls and a GET /models probe
    results        Structured, LogprobCompletion, TokenLogprob, TokenPosition
    observer       ProviderObserver: where provider events go (metrics)
    tuning         configure_libraries(): litellm and instructor set up at start-up
    prompts        versioned templates, loading and compiling
    response_spec  the response model built from rubric axes
    views          what a template sees of a rubric

Import from here. Names load on first use: importing the package imports neither litellm nor
instructor (seconds of start-up, and not needed by the local scorer), and changes nothing in them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.providers.client import ProviderClient
    from gateway.providers.faults import is_read_timeout, is_transient, retry_after_s, translate
    from gateway.providers.health import ProviderHealth
    from gateway.providers.observer import CallOutcome, NullObserver, ProviderObserver
    from gateway.providers.prompts import (
        DEFAULT_PROMPTS_DIR,
        ChatMessage,
        CompiledPrompt,
        Prompt,
        PromptKind,
        PromptRef,
        available_prompts,
        load_prompt,
        parse_ref,
    )
    from gateway.providers.response_spec import RATIONALE_MAX_CHARS, ResponseShape, ResponseSpec
    from gateway.providers.results import (
        LogprobCompletion,
        Structured,
        TokenLogprob,
        TokenPosition,
    )
    from gateway.providers.structured import correction, output_token_budget, resolve_mode
    from gateway.providers.tuning import configure_libraries
    from gateway.providers.views import (
        LABEL_CODES,
        AxisView,
        LabelView,
        RubricView,
        axis_views,
        safe_keys,
    )

_WHERE = {
    "client": ("ProviderClient",),
    "faults": ("is_read_timeout", "is_transient", "retry_after_s", "translate"),
    "health": ("ProviderHealth",),
    "observer": ("CallOutcome", "NullObserver", "ProviderObserver"),
    "prompts": (
        "DEFAULT_PROMPTS_DIR",
        "ChatMessage",
        "CompiledPrompt",
        "Prompt",
        "PromptKind",
        "PromptRef",
        "available_prompts",
        "load_prompt",
        "parse_ref",
    ),
    "response_spec": ("RATIONALE_MAX_CHARS", "ResponseShape", "ResponseSpec"),
    "results": ("LogprobCompletion", "Structured", "TokenLogprob", "TokenPosition"),
    "structured": ("correction", "output_token_budget", "resolve_mode"),
    "tuning": ("configure_libraries",),
    "views": ("LABEL_CODES", "AxisView", "LabelView", "RubricView", "axis_views", "safe_keys"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "DEFAULT_PROMPTS_DIR",
    "LABEL_CODES",
    "RATIONALE_MAX_CHARS",
    "AxisView",
    "CallOutcome",
    "ChatMessage",
    "CompiledPrompt",
    "LabelView",
    "LogprobCompletion",
    "NullObserver",
    "Prompt",
    "PromptKind",
    "PromptRef",
    "ProviderClient",
    "ProviderHealth",
    "ProviderObserver",
    "ResponseShape",
    "ResponseSpec",
    "RubricView",
    "Structured",
    "TokenLogprob",
    "TokenPosition",
    "available_prompts",
    "axis_views",
    "configure_libraries",
    "correction",
    "is_read_timeout",
    "is_transient",
    "load_prompt",
    "output_token_budget",
    "parse_ref",
    "resolve_mode",
    "retry_after_s",
    "safe_keys",
    "translate",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""How the gateway sets up litellm and instructor: all in one place, nothing at import, and
only through the libraries' public API.

``configure_libraries()`` puts everything below in place; ``ProviderClient`` calls it when it is
built (start-up), and calling it again changes nothing. Importing this module, or any module of
``gateway.providers``, leaves both libraries as they are (tests/providers/test_provider_tuning.py
checks that in a fresh process).

* litellm's "Give Feedback / Get Help" banner off (``litellm.suppress_debug_info``).
* no litellm-level retries (``litellm.num_retries`` unset): tenacity in the client is the only
  retry layer.
* instructor's own log lines off: they carry the model's output; the gateway logs its own events
  without content, and counts invalid output through instructor's per-client ``parse:error`` hook
  (see ``ProviderClient``).

One per-call shortcut remains, isolated below (``memoize_instructor_model_audit``): instructor
audits the response model's whole class tree for async validators five times per call, ~1 ms a
call on the gateway's rubric models and about 40% of the gateway's own overhead
(bench/provider_overhead.py). instructor has no setting or hook for it, so the shortcut replaces
that one function; if instructor moves or renames it, the shortcut does nothing (the audit simply
runs every time) and says so once in the log. It touches instructor only: nothing reaches into
litellm, so litellm's pin in pyproject.toml is a range (constraints.txt holds the tested lock).
tests/providers/test_provider_tuning.py checks that no other private module of either library is
imported, that the shortcut still refuses a model with async validators, and that configuring
works without it.

Earlier versions also skipped litellm's logging pipeline (a private context variable) and cached
instructor's JSON-mode instruction (its handler registry's internals). Both are gone: the first
is litellm's own cost, measured and reported by the benchmark rather than fought; the second
saved ~0.5 ms in JSON mode only.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

log = logging.getLogger(__name__)


def configure_libraries() -> None:
    """Configure litellm and instructor for the gateway (idempotent). Imports litellm: call it at
    start-up, after ``gateway`` has set ``LITELLM_LOCAL_MODEL_COST_MAP`` (gateway/__init__.py)."""
    import litellm

    litellm.suppress_debug_info = True  # no banners on stdout next to the JSON logs
    # litellm reads `num_retries or litellm.num_retries`: the client's per-call 0 falls back to
    # this global, so it must stay unset for tenacity to be the only retry layer.
    litellm.num_retries = None
    # instructor logs failed attempts at ERROR with the model's output and validation input in
    # the message itself (f-strings: there are no arguments a filter could withhold).
    logging.getLogger("instructor").setLevel(logging.CRITICAL)
    memoize_instructor_model_audit()


# The one place the gateway reaches into instructor: (module, attribute) pairs that hold the
# audit function in instructor 1.17 (callers import it from the first at call time; the second
# imported it at load time).
_AUDIT_HOMES = (
    ("instructor.v2.validation.async_validators", "reject_async_validators"),
    ("instructor.v2.core.patch", "reject_async_validators"),
)


def memoize_instructor_model_audit() -> bool:
    """Make instructor's per-call response-model audit run once per model class; True where it
    is in effect.

    Only classes that passed are remembered, so a model with async validators is still refused
    on every call. Where instructor does not have the function where 1.17 has it, nothing is
    replaced and False is returned (logged once at start-up).
    """
    import importlib

    try:
        homes = [importlib.import_module(module) for module, _ in _AUDIT_HOMES]
    except ImportError:
        homes = []
    original = getattr(homes[0], _AUDIT_HOMES[0][1], None) if homes else None
    if not callable(original):
        log.info("instructor's response-model audit not found: it runs on every call")
        return False
    if getattr(original, "_gateway_memoized", False):
        return True
    passed: weakref.WeakSet[type] = weakref.WeakSet()

    def reject_async_validators(response_model: Any) -> None:
        if isinstance(response_model, type) and response_model in passed:
            return
        original(response_model)
        if isinstance(response_model, type):
            passed.add(response_model)

    reject_async_validators._gateway_memoized = True  # type: ignore[attr-defined]
    for module, (_, name) in zip(homes, _AUDIT_HOMES, strict=True):
        if getattr(module, name, None) is original:
            setattr(module, name, reject_async_validators)
    return True

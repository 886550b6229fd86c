"""Settings: nested sections that still read every environment variable of the flat releases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.config import Floors, Settings, load_settings
from gateway.errors import ConfigError

# Every variable the flat Settings read, a value for it, and where it lands now.
LEGACY: list[tuple[str, str, tuple[str, ...], Any]] = [
    ("GATEWAY_HOST", "0.0.0.0", ("server", "host"), "0.0.0.0"),
    ("GATEWAY_PORT", "9001", ("server", "port"), 9001),
    ("GATEWAY_REQUEST_TIMEOUT_S", "12.5", ("server", "request_timeout_s"), 12.5),
    ("GATEWAY_MAX_REQUEST_BYTES", "4096", ("server", "max_request_bytes"), 4096),
    ("GATEWAY_MAX_TEXT_CHARS", "100", ("limits", "max_text_chars"), 100),
    ("GATEWAY_MAX_BATCH", "7", ("limits", "max_batch"), 7),
    ("GATEWAY_MAX_INLINE_LABELS", "5", ("limits", "max_inline_labels"), 5),
    ("GATEWAY_MAX_LABEL_CHARS", "50", ("limits", "max_label_chars"), 50),
    ("GATEWAY_RUBRICS_DIR", "/srv/rubrics", ("rubrics", "dir"), Path("/srv/rubrics")),
    ("GATEWAY_DEFAULT_RUBRIC", "sales", ("rubrics", "default"), "sales"),
    ("GATEWAY_RUBRIC_RELOAD_INTERVAL_S", "0", ("rubrics", "reload_interval_s"), 0.0),
    ("GATEWAY_MICRO_BATCH", "8", ("local", "micro_batch"), 8),
    ("GATEWAY_LOCAL_TEMPERATURE", "0.1", ("local", "temperature"), 0.1),
    ("GATEWAY_LOCAL_RAW_CENTER", "0.2", ("local", "raw_center"), 0.2),
    ("GATEWAY_LOCAL_RAW_SCALE", "9", ("local", "raw_scale"), 9.0),
    ("GATEWAY_LOCAL_THREADS", "1", ("local", "threads"), 1),
    ("GATEWAY_LOCAL_SPIN", "true", ("local", "spin"), True),
    ("GATEWAY_LOCAL_MAX_TOKENS", "128", ("local", "max_tokens"), 128),
    ("GATEWAY_NONE_FITS_FLOOR", "0.2", ("floors", "none_fits"), 0.2),
    ("GATEWAY_MULTI_FIT_FLOOR", "0.9", ("floors", "multi_fit"), 0.9),
    ("GATEWAY_CACHE_DIR", "/tmp/c", ("cache", "dir"), Path("/tmp/c")),
    ("GATEWAY_CACHE_ENABLED", "false", ("cache", "enabled"), False),
    ("GATEWAY_CACHE_TTL_S", "5", ("cache", "ttl_s"), 5.0),
    ("GATEWAY_CACHE_SIZE_LIMIT_BYTES", "2097152", ("cache", "size_limit_bytes"), 2097152),
    ("GATEWAY_SCORER", "llm", ("scoring", "scorer"), "llm"),
    ("GATEWAY_MODEL", "openai/m", ("provider", "model"), "openai/m"),
    (
        "GATEWAY_API_BASE",
        "http://127.0.0.1:1/v1",
        ("provider", "api_base"),
        "http://127.0.0.1:1/v1",
    ),
    ("GATEWAY_FALLBACK_MODELS", '["openai/b"]', ("provider", "fallback_models"), ("openai/b",)),
    ("GATEWAY_PROMPT", "classify.v1", ("scoring", "prompt"), "classify.v1"),
    ("GATEWAY_PROMPTS_DIR", "/srv/prompts", ("scoring", "prompts_dir"), Path("/srv/prompts")),
    ("GATEWAY_LLM_TIMEOUT_S", "3", ("provider", "timeout_s"), 3.0),
    ("GATEWAY_DEADLINE_S", "9", ("provider", "deadline_s"), 9.0),
    ("GATEWAY_MAX_RETRIES", "1", ("provider", "retry", "max_retries"), 1),
    ("GATEWAY_MAX_REASKS", "0", ("scoring", "max_reasks"), 0),
    ("GATEWAY_LLM_CONCURRENCY", "4", ("scoring", "concurrency"), 4),
    ("GATEWAY_LLM_LOCAL_WEIGHT", "0", ("scoring", "local_weight"), 0.0),
    ("GATEWAY_LLM_LOCAL_WEIGHT", "0.3", ("scoring", "local_weight"), 0.3),
    ("GATEWAY_FALLBACK_TO_LOCAL", "true", ("scoring", "fallback_to_local"), True),
    ("GATEWAY_ALLOW_OVERRIDES", "true", ("scoring", "allow_overrides"), True),
    ("GATEWAY_OVERRIDE_MODELS", '["openai/c"]', ("scoring", "override_models"), ("openai/c",)),
    ("GATEWAY_REDACT", "false", ("redaction", "enabled"), False),
    ("GATEWAY_ALLOW_UNREDACTED", "true", ("redaction", "allow_unredacted"), True),
    ("GATEWAY_REDACTION_SCORE_THRESHOLD", "0.7", ("redaction", "score_threshold"), 0.7),
    ("GATEWAY_REDACTION_ALLOW", '["Acme"]', ("redaction", "allow"), ("Acme",)),
    ("GATEWAY_REDACTION_MEMO_CHARS", "0", ("redaction", "memo_chars"), 0),
    (
        "GATEWAY_REDACTION_ALLOW_PATTERNS",
        '["A-\\\\d+"]',
        ("redaction", "allow_patterns"),
        ("A-\\d+",),
    ),
    ("GATEWAY_API_KEYS", '["ab"]', ("access", "api_keys"), ("ab",)),
    ("GATEWAY_API_KEYS_FILE", "/etc/keys", ("access", "api_keys_file"), Path("/etc/keys")),
    ("GATEWAY_RATE_LIMIT_PER_MINUTE", "60", ("access", "rate_limit_per_minute"), 60),
]


def _at(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for part in path:
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("name", "raw", "path", "expected"), LEGACY, ids=[r[0] for r in LEGACY])
def test_every_flat_variable_still_reaches_its_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, path: tuple[str, ...], expected: Any
) -> None:
    monkeypatch.setenv(name, raw)
    if name == "GATEWAY_SCORER":
        monkeypatch.setenv("GATEWAY_MODEL", "openai/m")  # a provider scorer needs a model
    assert _at(load_settings(), path) == expected


def test_defaults_differ_from_the_values_set_above() -> None:
    """Each row above sets a non-default value, so the test above can tell it was read."""
    defaults = Settings()
    assert [r[0] for r in LEGACY if _at(defaults, r[2]) == r[3]] == []


def test_structured_mode_is_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_STRUCTURED_MODE", "json_schema")
    assert load_settings().provider.structured_mode == "json_schema"


def test_a_provider_scorer_needs_a_model() -> None:
    with pytest.raises(ValidationError, match="GATEWAY_SCORER=cascade needs GATEWAY_MODEL"):
        Settings.model_validate({"scoring": {"scorer": "cascade"}})


def test_floors_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="must be below"):
        Floors(none_fits=0.9, multi_fit=0.5)


def test_a_bad_environment_names_every_variable_and_never_its_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "not-a-port-secret")
    monkeypatch.setenv("GATEWAY_RUBRIC_RELOAD_INTERVAL_S", "-1")
    monkeypatch.setenv("GATEWAY_PROVIDER_API_KEY", "sk-live-123")
    monkeypatch.setenv("GATEWAY_LLM_LOCAL_WEIGHT", "1")  # all of the answer the embedded model's
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = err.value.message
    assert "GATEWAY_PORT" in message and "GATEWAY_RUBRIC_RELOAD_INTERVAL_S" in message
    assert "GATEWAY_LLM_LOCAL_WEIGHT" in message
    assert "not-a-port-secret" not in message and "sk-live" not in message


def test_unknown_fields_are_refused_in_code() -> None:
    from gateway.config import ScoringSettings

    with pytest.raises(ValidationError):
        ScoringSettings(fallback_models=["x"])  # type: ignore[call-arg]  # it is a provider field


def test_overrides_apply_before_the_cross_section_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SCORER", "llm")
    with pytest.raises(ConfigError, match="needs GATEWAY_MODEL"):
        load_settings()
    assert load_settings({"provider": {"model": "openai/m"}}).scorer_kind == "llm"

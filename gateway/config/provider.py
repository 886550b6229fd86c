"""The provider sections of ``Settings``: the model chain, its endpoint, how patiently it is
called and how its structured output is asked for.

Defaults suit a hosted API (OpenAI, Anthropic...) and a self-hosted server (llama.cpp's
``llama-server``, vLLM, Ollama) alike:

* connecting is quick everywhere (a hosted endpoint in well under a second, one on the same
  network in milliseconds), so ``GATEWAY_LLM_CONNECT_TIMEOUT_S`` is short (5 s): a server that
  is down or unroutable fails fast, and a connect failure is safe to retry (nothing was sent);
* an answer can be slow on a self-hosted model (a cold 2,000-token prompt on a 2-core machine
  took 51 s), so the read timeout ``GATEWAY_LLM_TIMEOUT_S`` is long (120 s); a hosted model
  that answers at all answers well inside it, and a read timeout is not retried by default
  (``RetryPolicy.retry_read_timeouts``), so a stuck call costs one read timeout, not several;
* ``GATEWAY_DEADLINE_S`` (150 s) bounds one ticket: every retry, fallback and re-ask; keep it
  under the server's ``GATEWAY_REQUEST_TIMEOUT_S`` (180 s), which answers 504 past it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import ConfigError

# How structured output is asked for: the provider's native JSON schema (``response_format``
# json_schema, strict; constrained decoding on OpenAI, llama.cpp, vLLM), or JSON mode (json_object
# and the schema in the system message; validated here, re-asked when invalid).
StructuredMode = Literal["json_schema", "json"]
# ``auto``: json_schema where litellm's model table says the model supports response schemas,
# JSON mode otherwise (unknown and self-hosted models: set their mode in GATEWAY_STRUCTURED_MODES)
StructuredChoice = Literal["auto", "json_schema", "json"]


def _section() -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix="GATEWAY_", extra="forbid", populate_by_name=True)


class RetryPolicy(BaseSettings):
    """Retries of one model's transient faults (429, 5xx, timeouts, connection errors)."""

    model_config = _section()

    max_retries: int = Field(3, ge=0, description="retries per model after the first try")
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(8.0, gt=0)
    retry_after_max_s: float = Field(30.0, ge=0, description="longest Retry-After honoured")
    retry_read_timeouts: bool = Field(
        False,
        description="retry a call whose answer did not come within the read timeout (after at "
        "least backoff_max_s); off: the server may still be working on the first copy, and a "
        "second one would queue behind it",
    )


class ProviderSettings(BaseSettings):
    """The provider client: which model chain, where, how patiently, and how output is asked."""

    model_config = _section()

    model: str | None = Field(None, description="litellm model string, e.g. openai/gpt-4o-mini")
    fallback_models: tuple[str, ...] = ()
    api_base: str | None = None
    # None: litellm reads the provider's own variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)
    api_key: SecretStr | None = Field(None, validation_alias="GATEWAY_PROVIDER_API_KEY")
    connect_timeout_s: float = Field(
        5.0,
        gt=0,
        validation_alias="GATEWAY_LLM_CONNECT_TIMEOUT_S",
        description="opening a connection to the provider (hosted or self-hosted: seconds at "
        "most); also bounds the reachability probe behind /healthz",
    )
    timeout_s: float = Field(
        120.0,
        gt=0,
        validation_alias="GATEWAY_LLM_TIMEOUT_S",
        description="read timeout: waiting for one call's answer (a cold prompt on a self-hosted "
        "CPU model can take a minute; hosted models answer in seconds)",
    )
    deadline_s: float = Field(
        150.0,
        gt=0,
        description="one ticket: every retry, fallback and re-ask (keep it under "
        "GATEWAY_REQUEST_TIMEOUT_S)",
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    # TOOLS mode is not offered: litellm 1.106 imports its MCP gateway (and the optional `mcp`
    # package) whenever `tools` is sent; json_schema is the native path instead.
    structured_mode: StructuredChoice = Field(
        "auto", description="how structured output is asked for, unless set per model"
    )
    structured_modes: dict[str, StructuredMode] = Field(
        default_factory=dict,
        description='per model, e.g. GATEWAY_STRUCTURED_MODES=\'{"openai/qwen2.5": '
        '"json_schema"}\' for a llama-server litellm does not know',
    )
    structured_max_tokens: int | None = Field(
        None,
        ge=16,
        description="max_tokens of a structured call; unset: derived from the response schema "
        "(labels × the size of one label's answer, plus each axis' rationale)",
    )
    health_interval_s: float = Field(
        30.0,
        gt=0,
        validation_alias="GATEWAY_PROVIDER_HEALTH_INTERVAL_S",
        description="/healthz probes the provider (GET <api base>/models, in the background) "
        "when nothing was heard from it for this long",
    )

    # Where and how patiently a call is made, not what it answers: left out of the scorers'
    # fingerprints (the result-cache key); the model chain goes in by itself. A new field is
    # part of the key unless listed here.
    NOT_ANSWER_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "model",
            "fallback_models",
            "api_key",
            "connect_timeout_s",
            "timeout_s",
            "deadline_s",
            "retry",
            "health_interval_s",
        }
    )

    def answer_fields(self) -> dict[str, Any]:
        """Every field besides the model chain that can change an answer (the API base: two
        servers may serve different models under one name)."""
        return self.model_dump(mode="json", exclude=set(self.NOT_ANSWER_FIELDS))

    @property
    def primary(self) -> str:
        if self.model is None:
            raise ConfigError("a provider needs GATEWAY_MODEL (a litellm model string)")
        return self.model

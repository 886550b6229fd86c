"""Settings, read once from the environment (prefix ``GATEWAY_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    rubrics_dir: Path = PROJECT_ROOT / "rubrics"
    default_rubric: str = "support"

    max_text_chars: int = Field(20_000, ge=1)
    max_batch: int = Field(256, ge=1)
    max_inline_labels: int = Field(64, ge=1)
    max_label_chars: int = Field(1_000, ge=1)
    # concurrent /classify requests on the embedded model are scored together, up to this many
    # (gateway/batching.py); 1 turns it off
    micro_batch: int = Field(64, ge=1)
    # How often (seconds) rubric files are checked for changes; 0 checks on every request.
    rubric_reload_interval_s: float = Field(1.0, ge=0)

    # Embedded encoder. Defaults measured on shared data (README, "The embedded scorer").
    # bench/fit_local_params.py: T minimising NLL, and a class-balanced logistic of cosine.
    local_temperature: float = Field(0.053, gt=0)
    local_raw_center: float = 0.30
    local_raw_scale: float = Field(14.2, gt=0)
    local_threads: int = Field(0, ge=0, description="onnxruntime intra-op threads; 0 = all cores")
    local_spin: bool = Field(False, description="onnxruntime pool threads spin while idle")
    local_max_tokens: int = Field(256, ge=8, le=512)

    # Decision floors on raw (per-rubric yes-probability) scores.
    # multi_fit at 0.95 is cosine ≈ 0.51 under the local logistic: about the median cosine of a
    # correct label, so two labels must both match as well as a typical right answer does.
    none_fits_floor: float = Field(0.30, ge=0, le=1)
    multi_fit_floor: float = Field(0.95, ge=0, le=1)

    # Result cache (diskcache).
    cache_dir: Path = PROJECT_ROOT / ".cache" / "results"
    cache_enabled: bool = True
    cache_ttl_s: float | None = Field(7 * 24 * 3600, description="None keeps entries until evicted")
    cache_size_limit_bytes: int = Field(1 << 30, ge=1 << 20)

    # Scorer and providers. scorer=None means: cascade when a model is set, else local.
    scorer: Literal["local", "llm", "logprob", "cascade"] | None = None
    model: str | None = Field(None, description="litellm model string, e.g. openai/gpt-4o-mini")
    api_base: str | None = None
    fallback_models: list[str] = Field(default_factory=list)
    prompt: str = "classify.v2"
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    llm_timeout_s: float = Field(30.0, gt=0, description="one provider call")
    deadline_s: float = Field(60.0, gt=0, description="one request, all retries and fallbacks")
    max_retries: int = Field(3, ge=0)
    max_reasks: int = Field(2, ge=0, description="instructor re-asks on invalid structured output")
    llm_concurrency: int = Field(32, ge=1)
    fallback_to_local: bool = Field(
        False, description="on provider outage answer locally, decision=review"
    )
    # Off by default: an override spends the deployment's provider credentials on the caller's
    # choice. Models must also be listed in override_models; prompts are any in prompts_dir.
    allow_overrides: bool = Field(
        False, description="requests may pick a prompt and a model (gateway.scoring.variants)"
    )
    override_models: list[str] = Field(
        default_factory=list, description="models a request may pick when allow_overrides"
    )

    # Redaction (Presidio).
    redact: bool = True
    allow_unredacted: bool = Field(False, description="requests may send redact=false")
    redaction_score_threshold: float = Field(0.5, ge=0, le=1)
    redaction_allow: list[str] = Field(default_factory=list)
    redaction_memo_chars: int = Field(
        4_000_000,
        ge=0,
        description="redacted text kept in memory for repeats (HMAC-keyed); 0 = off",
    )
    redaction_allow_patterns: list[str] = Field(
        default_factory=list, description="regular expressions whose matches are never redacted"
    )

    # Access and limits.
    api_keys: list[str] = Field(default_factory=list, description="sha256 hex digests of API keys")
    api_keys_file: Path | None = None
    rate_limit_per_minute: int = Field(0, ge=0, description="per key; 0 = unlimited")
    request_timeout_s: float = Field(60.0, gt=0)
    max_request_bytes: int = Field(2_000_000, ge=1024)

    @property
    def scorer_kind(self) -> Literal["local", "llm", "logprob", "cascade"]:
        """``GATEWAY_SCORER``, defaulting to cascade when a model is configured, else local."""
        return self.scorer or ("cascade" if self.model else "local")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""The serving sections of ``Settings``, each its own ``BaseSettings`` read from the environment.

Every section is its own ``BaseSettings`` and reads the ``GATEWAY_*`` variables it has always
read (``GATEWAY_CACHE_DIR`` is ``settings.cache.dir``, ``GATEWAY_LLM_TIMEOUT_S`` is
``settings.provider.timeout_s``), so the flat names of earlier releases keep working. The
rules that span sections are ``Settings``' validators. Tests build their own:
``Settings(cache=CacheSettings(dir=tmp))``; ``get_settings()`` is the process default.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    Field,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

ScorerKind = Literal["local", "llm", "logprob", "cascade"]
PROVIDER_SCORERS: frozenset[str] = frozenset({"llm", "logprob", "cascade"})


def section(prefix: str = "GATEWAY_") -> SettingsConfigDict:
    # populate_by_name: a field with an env alias is still set by its name in code and tests
    return SettingsConfigDict(env_prefix=prefix, extra="forbid", populate_by_name=True)


class ServerSettings(BaseSettings):
    model_config = section()

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # above the provider deadline (GATEWAY_DEADLINE_S, 150 s): a slow self-hosted model's
    # answer must be able to arrive before the server gives up on the request (504)
    request_timeout_s: float = Field(180.0, gt=0)
    max_request_bytes: int = Field(2_000_000, ge=1024)


class LimitSettings(BaseSettings):
    """What one request may carry. Length limits are checked by the pipeline, so that the error
    names the limit and the batch endpoint reports them per ticket."""

    model_config = section()

    max_text_chars: int = Field(20_000, ge=1)
    max_batch: int = Field(256, ge=1)
    max_inline_labels: int = Field(64, ge=1)
    max_label_chars: int = Field(1_000, ge=1, description="an inline rubric or example")
    max_label_examples: int = Field(8, ge=0, description="examples per inline label")
    max_metadata_keys: int = Field(32, ge=0)
    max_metadata_chars: int = Field(1_000, ge=1, description="a metadata key or value")


class RubricSettings(BaseSettings):
    model_config = section()

    dir: Path = Field(PROJECT_ROOT / "rubrics", validation_alias="GATEWAY_RUBRICS_DIR")
    default: str = Field("support", validation_alias="GATEWAY_DEFAULT_RUBRIC")
    # how often (seconds) rubric files are checked for changes; 0 checks on every request
    reload_interval_s: float = Field(1.0, ge=0, validation_alias="GATEWAY_RUBRIC_RELOAD_INTERVAL_S")


class LocalSettings(BaseSettings):
    """The embedded encoder. Defaults measured on shared data (README, "The embedded scorer"):
    bench/fit_local_params.py, T minimising NLL and a class-balanced logistic of cosine."""

    model_config = section("GATEWAY_LOCAL_")

    temperature: float = Field(0.053, gt=0)
    raw_center: float = 0.30
    raw_scale: float = Field(14.2, gt=0)
    threads: int = Field(0, ge=0, description="onnxruntime intra-op threads; 0 = all cores")
    spin: bool = Field(False, description="onnxruntime pool threads spin while idle")
    max_tokens: int = Field(256, ge=8, le=512)
    # A ticket longer than max_tokens is read in windows of window_tokens overlapping by
    # window_stride, each scored on its own; at most max_windows of them (first, last, and the
    # middle ones nearest the labels' words). 1: the first max_tokens only. Measured on the
    # long-ticket suite (README, "Long tickets": bench/long_tickets.py).
    window_tokens: int = Field(128, ge=16, le=512)
    window_stride: int = Field(32, ge=0)
    max_windows: int = Field(8, ge=1, le=64)
    # a promoted head, the scorer behind it and the recorder's shadow heads embed the same
    # ticket within moments: the last this many embeddings are kept (keyed by a digest of the
    # text, in memory only; ~1.5 KB each), so each ticket is embedded once. 0: off
    recent_embeddings: int = Field(4096, ge=0)
    # concurrent /classify requests on a batching scorer are scored together, up to this many
    # (pipeline/batching.py); 1 turns it off
    micro_batch: int = Field(64, ge=1, validation_alias="GATEWAY_MICRO_BATCH")
    # ... and up to this many characters a batch, so that one batch stays short
    micro_batch_chars: int = Field(32_000, ge=1, validation_alias="GATEWAY_MICRO_BATCH_CHARS")
    # longer tickets are classified one at a time in a lane of their own, never in a batch
    # with short ones: a long ticket waits behind long tickets only
    heavy_ticket_chars: int = Field(4_000, ge=1, validation_alias="GATEWAY_HEAVY_TICKET_CHARS")

    # How the work is scheduled, not what it computes: the only fields left out of the
    # fingerprint (the result-cache key). A new field is part of it unless listed here.
    NOT_ANSWER_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"threads", "spin", "micro_batch", "micro_batch_chars", "heavy_ticket_chars"}
    )

    def fingerprint_fields(self) -> dict[str, Any]:
        """Every field that can change a score."""
        return self.model_dump(mode="json", exclude=set(self.NOT_ANSWER_FIELDS))

    @model_validator(mode="after")
    def _stride_inside_window(self) -> LocalSettings:
        # two of a window's tokens are [CLS] and [SEP]; the overlap must leave room to move on
        if self.window_stride >= self.window_tokens - 2:
            raise ValueError(
                f"window_stride ({self.window_stride}) must be below window_tokens - 2 "
                f"({self.window_tokens - 2})"
            )
        return self


class Floors(BaseSettings):
    """Decision floors on raw (per-rubric yes-probability) scores: under ``none_fits`` for
    every label, nothing fits; two or more at or above ``multi_fit``, several do.

    multi_fit at 0.95 is cosine ≈ 0.51 under the local logistic: about the median cosine of a
    correct label, so two labels must both match as well as a typical right answer does.

    A rubric's calibration (``rubric calibrate``) may carry its own none_fits floor, fitted on
    in-scope tickets; it replaces this one for that rubric (decide_axis keeps a ticket from
    being both none_fits and multi_fit).
    """

    model_config = section()

    none_fits: float = Field(0.30, ge=0, le=1, validation_alias="GATEWAY_NONE_FITS_FLOOR")
    multi_fit: float = Field(0.95, ge=0, le=1, validation_alias="GATEWAY_MULTI_FIT_FLOOR")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.none_fits >= self.multi_fit:
            raise ValueError(
                "GATEWAY_NONE_FITS_FLOOR must be below GATEWAY_MULTI_FIT_FLOOR "
                f"(got {self.none_fits} and {self.multi_fit})"
            )
        return self


class CacheSettings(BaseSettings):
    """The result cache (diskcache; in Redis with ``GATEWAY_REDIS_URL``, the same TTL, and
    this directory while Redis is down)."""

    model_config = section("GATEWAY_CACHE_")

    dir: Path = PROJECT_ROOT / ".cache" / "results"
    enabled: bool = True
    ttl_s: float | None = Field(7 * 24 * 3600, description="None keeps entries until evicted")
    size_limit_bytes: int = Field(1 << 30, ge=1 << 20)


class ScoringSettings(BaseSettings):
    """Which scorer answers, with which prompt, and what a request may override."""

    model_config = section()

    # None: cascade when a model is set, else local (Settings.scorer_kind)
    scorer: ScorerKind | None = None
    prompt: str = "classify.v3"
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    max_reasks: int = Field(2, ge=0, description="re-asks on invalid structured output")
    concurrency: int = Field(32, ge=1, validation_alias="GATEWAY_LLM_CONCURRENCY")
    logprob_orders: int = Field(
        1, ge=1, le=8, description="label orders the logprob scorer averages (letter bias)"
    )
    fallback_to_local: bool = Field(
        False, description="on provider outage answer locally, decision=review"
    )
    # Measured against a real 1.5B model on 200 fresh tickets (README, LLM scorers): the llm
    # scorer's calibrated ECE 0.167 -> 0.063, accuracy 0.835 -> 0.860.
    local_weight: float = Field(
        0.5,
        ge=0,
        lt=1,
        validation_alias="GATEWAY_LLM_LOCAL_WEIGHT",
        description="share of the embedded model's distribution mixed into an LLM's "
        "(llm, logprob, and the tickets a cascade sends); 0 = the LLM's alone",
    )
    # Off by default: an override spends the deployment's provider credentials on the caller's
    # choice. Models must also be listed in override_models; prompts are any in prompts_dir.
    allow_overrides: bool = Field(
        False, description="requests may pick a prompt and a model (gateway.scoring.variants)"
    )
    override_models: tuple[str, ...] = Field(
        (), description="models a request may pick when allow_overrides"
    )


class RedactionSettings(BaseSettings):
    """Presidio redaction."""

    model_config = section("GATEWAY_REDACTION_")

    enabled: bool = Field(True, validation_alias="GATEWAY_REDACT")
    allow_unredacted: bool = Field(
        False,
        validation_alias="GATEWAY_ALLOW_UNREDACTED",
        description="requests may send redact=false",
    )
    score_threshold: float = Field(0.5, ge=0, le=1)
    allow: tuple[str, ...] = ()
    allow_patterns: tuple[str, ...] = Field(
        (), description="regular expressions whose matches are never redacted"
    )
    memo_chars: int = Field(
        4_000_000, ge=0, description="redacted text kept in memory for repeats; 0 = off"
    )


class AccessSettings(BaseSettings):
    model_config = section()

    api_keys: tuple[str, ...] = Field((), description="sha256 hex digests of API keys")
    api_keys_file: Path | None = None
    rate_limit_per_minute: int = Field(0, ge=0, description="per key; 0 = unlimited")
    metrics_keys: tuple[str, ...] = Field(
        (), description="sha256 hex digests of scrape keys: they open GET /metrics, nothing else"
    )
    # Peers whose X-Forwarded-For names the client; none: the connecting peer is the client.
    # A JSON list or comma-separated: GATEWAY_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="IP addresses or CIDR networks of reverse proxies"
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError("not a JSON list; or give comma-separated entries") from None
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, entry in enumerate(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"entry {index} is not an IP address or CIDR network") from None
        return value

"""Picks and builds the configured scorer once at start-up (``GATEWAY_SCORER``)."""

from __future__ import annotations

import logging

from gateway.config import Settings
from gateway.errors import ConfigError, GatewayError, InvalidRequestError, ProviderUnavailableError
from gateway.providers.client import CallOutcome, ProviderClient
from gateway.providers.prompts import Prompt, load_prompt
from gateway.scoring.base import Checkable, Scorer
from gateway.scoring.cascade import CascadeScorer, LocalFallbackScorer
from gateway.scoring.llm import LLMScorer
from gateway.scoring.logprob import LogprobScorer
from gateway.server import telemetry

log = logging.getLogger(__name__)

DEFAULT_LABEL_CODE_PROMPT = "label_code.v1"


class TelemetryObserver:
    """Provider events into the Prometheus counters of ``gateway.server.telemetry``."""

    def call(self, model: str, outcome: CallOutcome) -> None:
        telemetry.PROVIDER_CALLS.labels(outcome).inc()

    def retry(self, model: str) -> None:
        telemetry.PROVIDER_RETRIES.inc()

    def fallback(self, from_model: str, to_model: str) -> None:
        telemetry.PROVIDER_FALLBACKS.inc()

    def cost(self, model: str, usd: float) -> None:
        telemetry.PROVIDER_COST.inc(usd)


def count_local_fallbacks(tickets: int) -> None:
    telemetry.PROVIDER_FALLBACKS.inc(tickets)


def _prompt(ref: str, settings: Settings) -> Prompt:
    try:
        return load_prompt(ref, settings.scoring.prompts_dir)
    except InvalidRequestError as exc:
        raise ConfigError(f"GATEWAY_PROMPT: {exc.message}") from None


def build_scorer(
    settings: Settings, local: Scorer, *, client: ProviderClient | None = None
) -> Scorer:
    """The scorer ``settings`` ask for; ``local`` is the embedded one (default and first pass).

    ``client`` is for tests and for sharing one provider client; normally built from settings.
    """
    kind = settings.scorer_kind
    if kind == "local":
        return local
    if not settings.provider.model:
        raise ConfigError(f"GATEWAY_SCORER={kind} needs GATEWAY_MODEL (a litellm model string)")
    client = client or ProviderClient(settings.provider, TelemetryObserver())
    if kind == "logprob":
        configured = _prompt(settings.scoring.prompt, settings)
        prompt = (
            configured
            if configured.kind == "label_code"
            else _prompt(DEFAULT_LABEL_CODE_PROMPT, settings)
        )
        logprob = LogprobScorer(client, prompt, concurrency=settings.scoring.concurrency)
        if settings.scoring.fallback_to_local:
            return LocalFallbackScorer(logprob, local, on_local_fallback=count_local_fallbacks)
        return logprob
    prompt = _prompt(settings.scoring.prompt, settings)
    if prompt.kind != "structured":
        raise ConfigError(
            f"GATEWAY_PROMPT={settings.scoring.prompt} is a {prompt.kind} prompt; "
            f"the {kind} scorer needs a structured one (e.g. classify.v2)"
        )
    llm = LLMScorer(
        client,
        prompt,
        max_reasks=settings.scoring.max_reasks,
        concurrency=settings.scoring.concurrency,
    )
    if kind == "llm":
        if settings.scoring.fallback_to_local:
            return LocalFallbackScorer(llm, local, on_local_fallback=count_local_fallbacks)
        return llm
    if kind == "cascade":
        return CascadeScorer(
            local,
            llm,
            fallback_to_local=settings.scoring.fallback_to_local,
            on_local_fallback=count_local_fallbacks,
        )
    raise ConfigError(f"unknown scorer {kind!r}; choose local, llm, logprob or cascade")


async def check_scorer(scorer: Scorer) -> bool:
    """Start-up checks: warms the provider path and refuses a logprob model without logprobs.

    Raises ``ConfigError`` for what a restart with other settings must fix (no logprobs, an
    unknown provider, a rejected key). Returns False, with a warning, when the provider could not
    be reached at all (every retry and fallback failed on transient faults): an outage says
    nothing about the configuration, and failing start-up for it would leave the server
    unusable until someone restarts it, long after the provider is back. Requests then meet the
    outage per ticket (503, or the local fallback) and succeed once the provider recovers.
    """
    if not isinstance(scorer, Checkable):
        return True
    try:
        await scorer.check()
    except ProviderUnavailableError as exc:
        log.warning(
            "start-up check of the %s scorer (model %s) skipped: %s", scorer.name, scorer.model, exc
        )
        return False
    except GatewayError:
        raise
    except Exception as exc:  # the start-up edge: litellm's own errors, e.g. an unknown provider
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConfigError(
            f"start-up check of the {scorer.name} scorer (model {scorer.model!r}) failed: "
            f"{type(exc).__name__}: {first_line}"
        ) from exc
    return True

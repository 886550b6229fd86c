"""Builders of the scorers that call a provider, one per ``GATEWAY_SCORER`` kind.

Imported only when a provider scorer is configured (``factory.build_scorer``): this is where
litellm and instructor get imported.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import Settings
from gateway.errors import ConfigError, InvalidRequestError
from gateway.providers import Prompt, ProviderClient, ProviderHealth, ProviderObserver, load_prompt
from gateway.redaction import Redactor
from gateway.scoring.base import Scorer
from gateway.scoring.blend import BlendScorer
from gateway.scoring.cascade import CascadeScorer
from gateway.scoring.fallback import LocalFallbackScorer
from gateway.scoring.llm import LLMScorer
from gateway.scoring.logprob import LogprobScorer

DEFAULT_LABEL_CODE_PROMPT = "label_code.v2"

Builder = Callable[[Settings, Scorer, ProviderClient, ProviderObserver, Redactor | None], Scorer]


def _prompt(ref: str, settings: Settings) -> Prompt:
    try:
        return load_prompt(ref, settings.scoring.prompts_dir)
    except InvalidRequestError as exc:
        raise ConfigError(f"GATEWAY_PROMPT: {exc.message}") from None


def _structured_prompt(settings: Settings) -> Prompt:
    prompt = _prompt(settings.scoring.prompt, settings)
    if prompt.kind != "structured":
        raise ConfigError(
            f"GATEWAY_PROMPT={settings.scoring.prompt} is a {prompt.kind} prompt; "
            f"the {settings.scorer_kind} scorer needs a structured one (e.g. classify.v2)"
        )
    return prompt


def _served(
    settings: Settings, scorer: Scorer, local: Scorer, observer: ProviderObserver
) -> Scorer:
    """``scorer`` mixed with the embedded model (``local_weight``), inside the local fallback:
    an outage is answered by the embedded model alone, marked as such."""
    weight = settings.scoring.local_weight
    if weight > 0:
        scorer = BlendScorer(scorer, local, weight)
    if not settings.scoring.fallback_to_local:
        return scorer
    return LocalFallbackScorer(scorer, local, on_local_fallback=observer.local_fallback)


def _llm(settings: Settings, client: ProviderClient, redactor: Redactor | None) -> LLMScorer:
    scoring = settings.scoring
    return LLMScorer(
        client,
        _structured_prompt(settings),
        max_reasks=scoring.max_reasks,
        concurrency=scoring.concurrency,
        redactor=redactor,
    )


def build_llm(
    settings: Settings,
    local: Scorer,
    client: ProviderClient,
    observer: ProviderObserver,
    redactor: Redactor | None = None,
) -> Scorer:
    return _served(settings, _llm(settings, client, redactor), local, observer)


def build_logprob(
    settings: Settings,
    local: Scorer,
    client: ProviderClient,
    observer: ProviderObserver,
    redactor: Redactor | None = None,  # a label code carries no rationale
) -> Scorer:
    configured = _prompt(settings.scoring.prompt, settings)
    prompt = (
        configured
        if configured.kind == "label_code"
        else _prompt(DEFAULT_LABEL_CODE_PROMPT, settings)
    )
    scorer = LogprobScorer(
        client,
        prompt,
        concurrency=settings.scoring.concurrency,
        orders=settings.scoring.logprob_orders,
    )
    return _served(settings, scorer, local, observer)


def build_cascade(
    settings: Settings,
    local: Scorer,
    client: ProviderClient,
    observer: ProviderObserver,
    redactor: Redactor | None = None,
) -> Scorer:
    return CascadeScorer(
        local,
        _llm(settings, client, redactor),
        fallback_to_local=settings.scoring.fallback_to_local,
        on_local_fallback=observer.local_fallback,
        local_weight=settings.scoring.local_weight,
    )


BUILDERS: dict[str, Builder] = {
    "llm": build_llm,
    "logprob": build_logprob,
    "cascade": build_cascade,
}


def build_provider_scorer(
    settings: Settings,
    local: Scorer,
    observer: ProviderObserver,
    *,
    client: ProviderClient | None = None,
    health: ProviderHealth | None = None,
    redactor: Redactor | None = None,
) -> Scorer:
    """The provider scorer ``settings`` ask for; ``client`` is shared when given, else built
    reporting to ``observer`` and ``health``; ``redactor`` redacts the model's rationales
    (without one they are not kept)."""
    builder = BUILDERS.get(settings.scorer_kind)
    if builder is None:
        raise ConfigError(
            f"unknown scorer {settings.scorer_kind!r}; choose local, {', '.join(BUILDERS)}"
        )
    client = client or ProviderClient(settings.provider, observer, health)
    return builder(settings, local, client, observer, redactor)

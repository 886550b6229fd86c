"""Builds the pipeline once at start-up: the areas' builders, assembled (DESIGN.md §1).

Used by the server's lifespan, ``rubric classify``, ``gateway.classify`` and the eval harness,
so all of them run the same classifier for the same settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gateway.cache import (
    CacheObserver,
    CachingScorer,
    NullCacheObserver,
    NullStore,
    RedisResults,
    ResultStore,
    SharedResults,
    open_cache,
)
from gateway.config import Settings
from gateway.language import FastTextDetector, LanguageDetector
from gateway.pipeline.calibration import CalibrationFinder
from gateway.pipeline.classifier import Classifier
from gateway.pipeline.heads import HeadRegistry, Heads
from gateway.pipeline.observer import NullPipelineObserver, PipelineObserver, TimedScorer
from gateway.providers import NullObserver, ProviderObserver

if TYPE_CHECKING:  # the type only: the health module is loaded with the provider client
    from gateway.providers.health import ProviderHealth
from gateway.redaction import (
    PerLanguageRedactor,
    Redactor,
    SpacyModel,
    build_redactor,
    load_spacy_model,
)
from gateway.rubrics import RubricStore
from gateway.scoring import (
    LocalScorer,
    Scorer,
    ScorerVariants,
    build_local_scorer,
    build_scorer,
    check_scorer,
)
from gateway.shared import RedisLink

__all__ = ["GatewayObserver", "NullGatewayObserver", "build_classifier", "check_classifier"]


class GatewayObserver(PipelineObserver, CacheObserver, ProviderObserver, Protocol):
    """Everything the pipeline reports, in one object (the server's ``Metrics``)."""


class NullGatewayObserver(NullPipelineObserver, NullCacheObserver, NullObserver):
    """Reports nothing (the CLI, evals and tests that do not look at metrics)."""


def build_classifier(
    settings: Settings,
    *,
    rubrics: RubricStore | None = None,
    local: LocalScorer | None = None,
    nlp: SpacyModel | None = None,
    redactor: Redactor | None = None,
    scorer: Scorer | None = None,
    observer: GatewayObserver | None = None,
    registry: HeadRegistry | None = None,
    calibrations: CalibrationFinder | None = None,
    provider_health: ProviderHealth | None = None,
    link: RedisLink | None = None,
    language: LanguageDetector | None = None,
) -> Classifier:
    """Everything /classify needs. Any part given is used as it is (models already loaded, a
    test's scorer); the rest is built from ``settings``. With a ``registry`` (the store), a
    rubric whose trained head is promoted is served head first; ``calibrations`` replaces the
    files beside the rubrics (``NoCalibrations``: the scorer's own distribution);
    ``provider_health`` follows the provider of a scorer built here (``/healthz``); with a
    ``link`` (the server's, ``GATEWAY_REDIS_URL``) the result cache and single-flight are every
    replica's, the local cache serving while Redis is down.
    ``Classifier.close()`` closes the cache opened here."""
    observer = observer or NullGatewayObserver()
    redactor = redactor or _per_language(settings, nlp)
    if scorer is None or registry is not None:
        local = local or build_local_scorer(settings.local)
    if scorer is None:
        assert local is not None
        scorer = build_scorer(settings, local, observer, health=provider_health, redactor=redactor)
    store: ResultStore = (
        open_cache(settings.cache, observer) if settings.cache.enabled else NullStore()
    )
    shared: SharedResults | None = (
        RedisResults(link, settings.cache.ttl_s, observer)
        if link is not None and settings.cache.enabled
        else None
    )

    def served(inner: Scorer) -> Scorer:
        # timing inside the cache: the score stage times scoring, not cache hits
        return CachingScorer(TimedScorer(inner, observer), store, observer=observer, shared=shared)

    heads = (
        Heads(
            registry,
            local.encoder,
            inner=scorer,
            wrap=served,
            refresh_s=settings.store.heads_refresh_s,
        )
        if registry is not None and local is not None
        else None
    )
    return Classifier(
        settings=settings,
        rubrics=rubrics or RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s),
        redactor=redactor,
        variants=ScorerVariants(scorer, settings.scoring, wrap=served),
        observer=observer,
        heads=heads,
        calibrations=calibrations,
        language=language or FastTextDetector(),
        on_close=[store.close],
    )


def _per_language(settings: Settings, nlp: SpacyModel | None) -> Redactor:
    """The deployment's redactor, and beside it one without NER for tickets in a language the
    English model misreads (``redaction.language``); both share one spaCy model."""
    if not settings.redaction.enabled:
        return build_redactor(settings.redaction)
    nlp = nlp or load_spacy_model()
    return PerLanguageRedactor(
        build_redactor(settings.redaction, nlp), build_redactor(settings.redaction, nlp, ner=False)
    )


async def check_classifier(classifier: Classifier) -> bool:
    """The served scorer's start-up check (``scoring.factory.check_scorer``); the server and
    ``rubric classify`` run it before their first ticket."""
    return await check_scorer(classifier.variants.served)

"""Application factory: the lifespan builds every stage once and injects it via app.state."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.cache.disk import ResultCache
from gateway.config import Settings, get_settings
from gateway.pipeline.classifier import Classifier
from gateway.redaction.presidio import PassThroughRedactor, Redactor
from gateway.rubrics.model import RubricStore
from gateway.scoring.base import Scorer
from gateway.scoring.encoder import Encoder
from gateway.scoring.local import LocalScorer
from gateway.server.routes import install_error_handlers, router
from gateway.server.security import Guard, LimitsMiddleware, log_access_mode
from gateway.server.telemetry import TelemetryMiddleware, configure_logging

log = logging.getLogger("gateway")


def build_local_scorer(settings: Settings) -> LocalScorer:
    encoder = Encoder(
        max_tokens=settings.local.max_tokens,
        threads=settings.local.threads,
        spin=settings.local.spin,
    )
    return LocalScorer(encoder, settings.local)


def build_scorer(settings: Settings) -> Scorer:
    """The configured scorer; the embedded model is always built (default and first pass)."""
    local = build_local_scorer(settings)
    if settings.scorer_kind == "local":
        return local
    # litellm and instructor are heavy imports: only when a provider is configured
    from gateway.scoring.factory import build_scorer as build_provider_scorer

    return build_provider_scorer(settings, local)


async def check_scorer(settings: Settings, scorer: Scorer) -> bool:
    """The scorer's start-up check (``scoring.factory.check_scorer``: raises ``ConfigError`` for
    a model the scorer cannot use; False when the provider was unreachable and the check was
    skipped). The server and ``rubric classify`` both run it before their first ticket."""
    if settings.scorer_kind == "local":
        return True  # nothing to check, and litellm stays unimported
    from gateway.scoring.factory import check_scorer as check

    return await check(scorer)


def build_redactor(settings: Settings) -> Redactor:
    if not settings.redaction.enabled:
        return PassThroughRedactor()
    from gateway.redaction.presidio import (  # heavy import (spaCy)
        MemoizedRedactor,
        PresidioRedactor,
    )

    presidio = PresidioRedactor.from_settings(settings)
    if settings.redaction.memo_chars == 0:
        return presidio
    return MemoizedRedactor(presidio, settings.redaction.memo_chars)


def build_classifier(settings: Settings, rubrics: RubricStore | None = None) -> Classifier:
    """Everything /classify needs, built once; also used by the CLI and the eval harness."""
    cache = (
        ResultCache(settings.cache.dir, settings.cache.ttl_s, settings.cache.size_limit_bytes)
        if settings.cache.enabled
        else None
    )
    return Classifier(
        settings=settings,
        rubrics=rubrics or RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s),
        redactor=build_redactor(settings),
        scorer=build_scorer(settings),
        cache=cache,
    )


class AppState:
    """What the routes read; ``classifier`` is None until the model has loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rubrics = RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s)
        self.classifier: Classifier | None = None
        self.startup_error: str | None = None
        self.loaded = threading.Event()

    def load(self) -> None:
        try:
            classifier = build_classifier(self.settings, self.rubrics)
            try:
                # This loader thread has no event loop, so the check gets its own. Safe: litellm
                # keys its cached HTTP clients by event loop, so none opened here is reused by
                # the server's loop; the scorers' semaphores bind to a loop only when contended.
                asyncio.run(check_scorer(self.settings, classifier.scorer))
            except BaseException:
                if classifier.cache is not None:
                    classifier.cache.close()
                raise
            self.classifier = classifier
        except Exception as exc:  # reported by /healthz and the log, not swallowed
            self.startup_error = f"{type(exc).__name__}: {exc}"
            log.error("start-up failed: %s", self.startup_error)
        finally:
            self.loaded.set()


def create_app(settings: Settings | None = None, *, wait: bool = False) -> FastAPI:
    """``wait=True`` loads the model before serving (tests, CLI); otherwise the server answers
    ``/healthz`` with "starting" while the model loads in the background."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings)
        app.state.gateway = state
        log_access_mode(settings, app.state.guard)
        for path, problems in state.rubrics.errors.items():
            log.warning("rubric file %s not loaded: %s", path, problems[0])
        loader = threading.Thread(target=state.load, name="model-loader", daemon=True)
        loader.start()
        if wait:
            loader.join()
        yield
        if state.classifier is not None and state.classifier.cache is not None:
            state.classifier.cache.close()
        app.state.guard.close()  # reopens by itself if the app is started again

    app = FastAPI(
        title="rubric-gateway",
        version="0.1.0",
        summary="Zero-shot classification of support tickets against YAML rubrics.",
        lifespan=lifespan,
    )
    app.include_router(router)
    install_error_handlers(app)
    # Keys are parsed here, not in the lifespan, so a bad keys file fails the start loudly.
    app.state.guard = Guard(settings)
    configure_logging()
    # Added last = outermost: every response, 413/504 included, gets a request id and a metric.
    app.add_middleware(
        LimitsMiddleware,
        max_bytes=settings.server.max_request_bytes,
        timeout_s=settings.server.request_timeout_s,
    )
    app.add_middleware(TelemetryMiddleware)
    return app

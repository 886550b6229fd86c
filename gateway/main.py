"""Application factory: the lifespan builds every stage once and injects it via app.state."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway.api import install_error_handlers, router
from gateway.cache import ResultCache
from gateway.classifier import Classifier
from gateway.config import Settings, get_settings
from gateway.redact import PassThroughRedactor, Redactor
from gateway.rubrics import RubricStore
from gateway.scoring.base import Scorer
from gateway.scoring.encoder import Encoder
from gateway.scoring.local import LocalParams, LocalScorer

log = logging.getLogger("gateway")


def build_local_scorer(settings: Settings) -> LocalScorer:
    encoder = Encoder(max_tokens=settings.local_max_tokens, threads=settings.local_threads)
    params = LocalParams(
        temperature=settings.local_temperature,
        raw_center=settings.local_raw_center,
        raw_scale=settings.local_raw_scale,
    )
    return LocalScorer(encoder, params)


def build_scorer(settings: Settings) -> Scorer:
    return build_local_scorer(settings)


def build_redactor(settings: Settings) -> Redactor:
    return PassThroughRedactor()


def build_classifier(settings: Settings, rubrics: RubricStore | None = None) -> Classifier:
    """Everything /classify needs, built once; also used by the CLI and the eval harness."""
    cache = (
        ResultCache(settings.cache_dir, settings.cache_ttl_s, settings.cache_size_limit_bytes)
        if settings.cache_enabled
        else None
    )
    return Classifier(
        settings=settings,
        rubrics=rubrics or RubricStore(settings.rubrics_dir, settings.rubric_reload_interval_s),
        redactor=build_redactor(settings),
        scorer=build_scorer(settings),
        cache=cache,
    )


class AppState:
    """What the routes read; ``classifier`` is None until the model has loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rubrics = RubricStore(settings.rubrics_dir, settings.rubric_reload_interval_s)
        self.classifier: Classifier | None = None
        self.startup_error: str | None = None
        self.loaded = threading.Event()

    def load(self) -> None:
        try:
            self.classifier = build_classifier(self.settings, self.rubrics)
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
        for path, problems in state.rubrics.errors.items():
            log.warning("rubric file %s not loaded: %s", path, problems[0])
        loader = threading.Thread(target=state.load, name="model-loader", daemon=True)
        loader.start()
        if wait:
            loader.join()
        yield
        if state.classifier is not None and state.classifier.cache is not None:
            state.classifier.cache.close()

    app = FastAPI(
        title="rubric-gateway",
        version="0.1.0",
        summary="Zero-shot classification of support tickets against YAML rubrics.",
        lifespan=lifespan,
    )
    app.include_router(router)
    install_error_handlers(app)
    return app

"""The application factory: assembles the app; every stage is built by its own area."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from gateway.config import Settings, get_settings
from gateway.redaction import Redactor, SpacyModel
from gateway.scoring import LocalScorer, Scorer
from gateway.server.errors import install_error_handlers
from gateway.server.limits import LimitsMiddleware
from gateway.server.metrics import Metrics
from gateway.server.review import router as review_router
from gateway.server.routes import router
from gateway.server.security import Guard, docs_router, log_access_mode
from gateway.server.state import AppState, Parts
from gateway.server.telemetry import TelemetryMiddleware, configure_logging
from gateway.server.webhooks import router as webhooks_router
from gateway.server.webhooks import start_connectors, stop_connectors
from gateway.shared import RedisLink

log = logging.getLogger("gateway")


def create_app(
    settings: Settings | None = None,
    *,
    wait: bool = False,
    local: LocalScorer | None = None,
    nlp: SpacyModel | None = None,
    redactor: Redactor | None = None,
    scorer: Scorer | None = None,
) -> FastAPI:
    """The gateway as an ASGI app. ``wait=True`` loads the model before serving (tests, CLI);
    otherwise the server answers ``/healthz`` with "starting" while the model loads in the
    background. ``local``, ``nlp``, ``redactor`` and ``scorer`` replace what settings would
    build (models already loaded, a test's scorer)."""
    settings = settings or get_settings()
    metrics = Metrics()
    parts = Parts(local=local, nlp=nlp, redactor=redactor, scorer=scorer)
    # Redis (GATEWAY_REDIS_URL): the replicas' shared cache, single-flight and rate limits.
    # Its client is built when the lifespan starts it, on the server's event loop.
    link = RedisLink(settings.redis, observer=metrics) if settings.redis.url else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the rubric store loads its files here: YAML is parsed in a worker, never on the loop
        if link is not None:
            await link.start()  # bounded by GATEWAY_REDIS_TIMEOUT_S; down is a warning
        state = await anyio.to_thread.run_sync(AppState, settings, metrics, parts, link)
        app.state.gateway = state
        log_access_mode(settings, app.state.guard)
        for path, problems in state.rubrics.errors.items():
            log.warning("rubric file %s not loaded: %s", path, problems[0])
        loader = threading.Thread(target=state.load, name="model-loader", daemon=True)
        loader.start()
        if wait:
            loader.join()
        await start_connectors(app, state)  # helpdesk webhooks and their job worker
        yield
        await stop_connectors(app)
        if state.provider_health is not None:
            await state.provider_health.aclose()  # a background probe still running
        state.close()
        app.state.guard.close()  # reopens by itself if the app is started again
        if link is not None:
            await link.aclose()

    app = FastAPI(
        title="rubric-gateway",
        version="0.1.0",
        summary="Zero-shot classification of support tickets against YAML rubrics.",
        lifespan=lifespan,
        # served by docs_router instead, behind the key on a keyed gateway
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(router)
    app.include_router(review_router)
    app.include_router(webhooks_router)
    app.include_router(docs_router)
    install_error_handlers(app)
    # Keys are parsed here, not in the lifespan, so a bad keys file fails the start loudly.
    app.state.guard = Guard(settings, observer=metrics, link=link)
    configure_logging()
    # Added last = outermost: every response, 413/504 included, gets a request id and a metric.
    app.add_middleware(
        LimitsMiddleware,
        max_bytes=settings.server.max_request_bytes,
        timeout_s=settings.server.request_timeout_s,
    )
    app.add_middleware(TelemetryMiddleware, metrics=metrics)
    return app

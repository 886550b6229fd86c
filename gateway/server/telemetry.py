"""Metrics (prometheus-client), structured JSON logs and the request id.

Metrics live in one module-level registry: one set per process. Under ``--workers N`` each
worker is a process of its own, so with ``PROMETHEUS_MULTIPROC_DIR`` set (``rubric serve
--workers N`` sets it; set it to an empty directory when running ``uvicorn --workers N``
yourself) prometheus-client keeps every value in per-process files there and ``/metrics`` sums
the files: whichever worker answers the scrape reports every worker's counts. A Gauge added here
needs a ``multiprocess_mode`` for that.

Nothing here ever sees ticket text: logs carry ids, routes, statuses and timings only.
"""

from __future__ import annotations

import atexit
import contextvars
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.schemas import ClassifyResponse

# The *_created gauges double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# Sub-millisecond buckets at the bottom: cache hits over HTTP are ~1-3 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    "gateway_requests", "HTTP requests by route and status", ["route", "status"], registry=REGISTRY
)
STAGE_LATENCY = Histogram(
    "gateway_stage_seconds",
    "Latency per pipeline stage (redact, score, total)",
    ["stage"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
CACHE = Counter("gateway_cache", "Result-cache lookups by outcome", ["result"], registry=REGISTRY)
CACHE_ERRORS = Counter(
    "gateway_cache_errors", "Result-cache operations that failed", ["op"], registry=REGISTRY
)
SINGLE_FLIGHT = Counter(
    "gateway_single_flight_joins",
    "Requests that waited on an identical in-flight scoring call instead of scoring",
    registry=REGISTRY,
)
LABELS = Counter(
    "gateway_predicted_labels",
    "Predicted top labels per rubric and axis (drift signal)",
    ["rubric", "axis", "label"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "gateway_decisions", "Routing decisions", ["rubric", "decision"], registry=REGISTRY
)
SCORED_BY = Counter(
    "gateway_scored_by",
    "Tickets scored (cache hits and single-flight joins excluded) by the scorer that decided: "
    "the cascade's local/llm share",
    ["scorer"],
    registry=REGISTRY,
)
# ScoreResult.scorer values; "local-fallback" is scoring.base.LOCAL_FALLBACK (an outage answer)
for _scorer in ("local", "llm", "logprob", "local-fallback"):
    SCORED_BY.labels(_scorer)  # export zeros: a share needs both series
# Provider metrics: defined now so dashboards can be built; they stay 0 until the LLM scorer
# (gateway.providers.client) calls the hooks below.
PROVIDER_CALLS = Counter(
    "gateway_provider_calls", "Provider calls by outcome", ["outcome"], registry=REGISTRY
)
for _outcome in ("ok", "error", "timeout"):
    PROVIDER_CALLS.labels(_outcome)  # export zeros: absent series break rate() alerts
PROVIDER_RETRIES = Counter("gateway_provider_retries", "Provider retries", registry=REGISTRY)
PROVIDER_FALLBACKS = Counter(
    "gateway_provider_fallbacks", "Fallbacks to another model or local", registry=REGISTRY
)
PROVIDER_COST = Counter("gateway_provider_cost_usd", "Provider cost in USD", registry=REGISTRY)
RATE_LIMITED = Counter(
    "gateway_rate_limited", "Requests refused by the rate limit", registry=REGISTRY
)


# prometheus-client picks file-backed values when it is imported with this set; read it the same
# way so that /metrics collects from where the values are.
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

if MULTIPROC_DIR is not None:
    # Drops this process' live-gauge files on a clean exit (no-op for counters, which keep
    # counting a dead worker's requests, as they should). A SIGKILLed worker cannot run it.
    atexit.register(
        lambda: mark_process_dead(os.getpid(), MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    )


def metrics_text() -> bytes:
    if MULTIPROC_DIR is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()  # per scrape: the collector reads every worker's files
    MultiProcessCollector(registry, path=MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time one pipeline stage into ``gateway_stage_seconds{stage=name}``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_LATENCY.labels(name).observe(time.perf_counter() - started)


def observe_response(resp: ClassifyResponse) -> None:
    """Count the predicted label per axis and the decision of one classified ticket."""
    rubric = resp.rubric.name
    LABELS.labels(rubric, resp.axis, resp.top_label).inc()
    for axis, result in resp.axes.items():
        LABELS.labels(rubric, axis, result.top_label).inc()
    DECISIONS.labels(rubric, resp.decision).inc()


# ---------------------------------------------------------------------- logs

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_FIELDS = ("route", "status", "latency_ms", "method")


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Only the message and a fixed set of extras are emitted, so a
    stray ``extra=`` cannot smuggle request content into the log."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                out[field] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, separators=(",", ":"))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (pytest and some servers swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Attach one JSON handler to the ``gateway`` logger (idempotent)."""
    logger = logging.getLogger("gateway")
    if not any(getattr(h, "_gateway_json", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._gateway_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
    # Propagation stays on so pytest's caplog and a host app's handlers still see records;
    # uvicorn configures no root handler, so lines are not written twice under it.


access_log = logging.getLogger("gateway.access")


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Route templates only: raw paths would let scanners blow up label cardinality.
    return path if isinstance(path, str) else "unmatched"


class TelemetryMiddleware:
    """Pure ASGI: request id in and out (``x-request-id``), status/latency metrics, access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            REQUESTS.labels(route, str(status)).inc()
            if route.startswith("/classify"):
                STAGE_LATENCY.labels("total").observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "route": route,
                    "method": scope.get("method"),
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)

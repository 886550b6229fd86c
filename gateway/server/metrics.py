"""Prometheus metrics: one ``Metrics`` object per app, injected wherever events happen.

``Metrics`` is the observer of every area (``GatewayObserver``: pipeline stages, the cache, the
provider client; the guard's rate limit; HTTP requests). Its counters live in its own
registry, so two apps in one process (tests) count apart.

Under ``--workers N`` each worker is a process of its own, so with ``PROMETHEUS_MULTIPROC_DIR``
set (``rubric serve --workers N`` sets it; set it to an empty directory when running ``uvicorn
--workers N`` yourself) prometheus-client keeps every value in per-process files there and
``/metrics`` sums the files: whichever worker answers the scrape reports every worker's counts.
A Gauge added here needs a ``multiprocess_mode`` for that.

Nothing here ever sees ticket text: labels are routes, statuses, rubric and label names.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from gateway.cache.observer import CacheOp
from gateway.providers import CallOutcome
from gateway.rubrics import RubricSet
from gateway.schemas import ClassifyResponse

# The *_created gauges double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# Sub-millisecond buckets at the bottom: cache hits over HTTP are ~1-3 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# ScoreResult.scorer values; "local-fallback" is scoring.base.LOCAL_FALLBACK (an outage answer)
_SCORERS = ("local", "llm", "logprob", "local-fallback")


def _multiproc_dir() -> str | None:
    # prometheus-client picks file-backed values when this is set at its import; read it the
    # same way so that /metrics collects from where the values are.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


_MULTIPROC_DIR = _multiproc_dir()
if _MULTIPROC_DIR is not None:
    # Drops this process' live-gauge files on a clean exit (no-op for counters, which keep
    # counting a dead worker's requests, as they should). A SIGKILLed worker cannot run it.
    atexit.register(
        lambda: mark_process_dead(os.getpid(), _MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.stage_latency = Histogram(
            "gateway_stage_seconds",
            "Latency per pipeline stage (redact, score, total)",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "gateway_cache", "Result-cache lookups by outcome", ["result"], registry=r
        )
        self.cache_errors = Counter(
            "gateway_cache_errors", "Result-cache operations that failed", ["op"], registry=r
        )
        self.single_flight = Counter(
            "gateway_single_flight_joins",
            "Requests that waited on an identical in-flight scoring call instead of scoring",
            registry=r,
        )
        self.labels = Counter(
            "gateway_predicted_labels",
            "Predicted top labels per rubric and axis (drift signal)",
            ["rubric", "axis", "label"],
            registry=r,
        )
        self.decisions = Counter(
            "gateway_decisions", "Routing decisions", ["rubric", "decision"], registry=r
        )
        self.scored_by = Counter(
            "gateway_scored_by",
            "Tickets scored (cache hits and single-flight joins excluded) by the scorer that "
            "decided: the cascade's local/llm share",
            ["scorer"],
            registry=r,
        )
        for scorer in _SCORERS:
            self.scored_by.labels(scorer)  # export zeros: a share needs both series
        self.provider_calls = Counter(
            "gateway_provider_calls", "Provider calls by outcome", ["outcome"], registry=r
        )
        for outcome in ("ok", "error", "timeout"):
            self.provider_calls.labels(outcome)  # export zeros: absent series break rate() alerts
        self.provider_retries = Counter("gateway_provider_retries", "Provider retries", registry=r)
        self.provider_fallbacks = Counter(
            "gateway_provider_fallbacks", "Fallbacks to another model or local", registry=r
        )
        self.provider_invalid = Counter(
            "gateway_provider_invalid_outputs",
            "Provider replies that failed validation and were re-asked",
            registry=r,
        )
        self.provider_cost = Counter(
            "gateway_provider_cost_usd", "Provider cost in USD", registry=r
        )
        self.rate_limited_total = Counter(
            "gateway_rate_limited", "Requests refused by the rate limit", registry=r
        )

    def text(self) -> bytes:
        """Prometheus text format: this app's counters, or every worker's files summed."""
        directory = _multiproc_dir()
        if directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()  # per scrape: the collector reads every worker's files
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    # -- HTTP (TelemetryMiddleware) and routes
    def request(self, route: str, status: int, elapsed_s: float) -> None:
        self.requests.labels(route, str(status)).inc()
        if route.startswith("/classify"):
            self.stage_latency.labels("total").observe(elapsed_s)

    def response(self, resp: ClassifyResponse) -> None:
        """The predicted label per axis and the decision of one classified ticket.

        Label values come from the deployment's rubric files only: an inline label's name is
        the caller's string (unbounded, and it may be personal data), so it counts as ``inline``.
        """
        rubric = resp.rubric.name
        inline = rubric == RubricSet.INLINE
        self.labels.labels(rubric, resp.axis, "inline" if inline else resp.top_label).inc()
        for axis, result in resp.axes.items():
            self.labels.labels(rubric, axis, result.top_label).inc()
        self.decisions.labels(rubric, resp.decision).inc()

    # -- PipelineObserver
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_latency.labels(name).observe(time.perf_counter() - started)

    def scored(self, scorer: str) -> None:
        self.scored_by.labels(scorer).inc()

    # -- CacheObserver
    def hit(self) -> None:
        self.cache.labels("hit").inc()

    def miss(self) -> None:
        self.cache.labels("miss").inc()

    def error(self, op: CacheOp) -> None:
        self.cache_errors.labels(op).inc()

    def joined(self) -> None:
        self.single_flight.inc()

    # -- ProviderObserver
    def call(self, model: str, outcome: CallOutcome) -> None:
        self.provider_calls.labels(outcome).inc()

    def retry(self, model: str) -> None:
        self.provider_retries.inc()

    def fallback(self, from_model: str, to_model: str) -> None:
        self.provider_fallbacks.inc()

    def local_fallback(self, tickets: int) -> None:
        self.provider_fallbacks.inc(tickets)

    def invalid_output(self, model: str) -> None:
        self.provider_invalid.inc()

    def cost(self, model: str, usd: float) -> None:
        self.provider_cost.inc(usd)

    # -- AccessObserver (server.security)
    def rate_limited(self) -> None:
        self.rate_limited_total.inc()

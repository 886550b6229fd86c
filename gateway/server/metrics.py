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
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from gateway.cache.observer import CacheOp
from gateway.rubrics import RubricSet
from gateway.schemas import ClassifyResponse
from gateway.server.provider_metrics import ProviderMetrics

if TYPE_CHECKING:
    # the type only: drift's scipy stays out of the server's import
    from gateway.learning.drift import DriftReport

# The *_created gauges double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

# Sub-millisecond buckets at the bottom: cache hits over HTTP are ~1-3 ms.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# ScoreResult.scorer values; "local-fallback" is scoring.base.LOCAL_FALLBACK (an outage answer)
_SCORERS = ("local", "llm", "logprob", "local-fallback")

_DRIFT_LABELS = ("rubric", "fingerprint", "axis")


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


class Metrics(ProviderMetrics):
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
        self._provider_counters(r)
        self.rate_limited_total = Counter(
            "gateway_rate_limited", "Requests refused by the rate limit", registry=r
        )
        self.redis_reachable: Gauge | None = None  # registered by the first redis_up()
        self.redis_errors = Counter(
            "gateway_redis_errors",
            "Redis operations that failed (answered locally instead), by operation",
            ["op"],
            registry=r,
        )
        self.observations_recorded_total = Counter(
            "gateway_observations_recorded", "Classified tickets written to the store", registry=r
        )
        self.observations_lost_total = Counter(
            "gateway_observations_lost",
            "Classified tickets not stored: the recorder's queue was full",
            registry=r,
        )
        self.store_failures = Counter(
            "gateway_store_failures", "Store writes that failed (the batch is retried)", registry=r
        )

        # "mostrecent": a drift value is a fact about the store, not about the worker that
        # computed it: the newest report wins, summing or max-ing workers' copies would be wrong,
        # and it stays after that worker exits (the "live" modes would drop it).
        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, _DRIFT_LABELS, multiprocess_mode="mostrecent", registry=r)

        self.drift_psi = gauge(
            "gateway_drift_psi",
            "PSI of the predicted-label shares against the fingerprint's reference window, "
            "less the sampling floor; newest full window",
        )
        self.drift_mean_confidence = gauge(
            "gateway_drift_mean_confidence",
            "Mean calibrated top probability (estimated accuracy), newest full window",
        )
        self.drift_none_fits_share = gauge(
            "gateway_drift_none_fits_share", "Share of tickets marked none_fits, newest window"
        )
        self.drift_estimated_accuracy = gauge(
            "gateway_drift_estimated_accuracy",
            "Mean confidence of the human-labelled tickets, newest window (NaN: none)",
        )
        self.drift_observed_accuracy = gauge(
            "gateway_drift_observed_accuracy",
            "Share of human-labelled tickets whose label is the top label (NaN: none)",
        )
        self.drift_warnings = Counter(
            "gateway_drift_warnings",
            "Newest full windows whose PSI passed the warning level (each counted once)",
            ["rubric", "axis"],
            registry=r,
        )
        # per (rubric, axis): the fingerprint its gauges carry, the last window counted
        self._drift_fingerprint: dict[tuple[str, str], str] = {}
        self._drift_counted: dict[tuple[str, str], datetime] = {}

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

    # -- AccessObserver (server.security)
    def rate_limited(self) -> None:
        self.rate_limited_total.inc()

    # -- LinkObserver (shared: the Redis link)
    def redis_up(self, up: bool) -> None:
        if self.redis_reachable is None:
            # only with GATEWAY_REDIS_URL: an unconfigured Redis is no 0 to alert on.
            # "livemin": 0 as soon as one live worker cannot reach it.
            self.redis_reachable = Gauge(
                "gateway_redis_up",
                "1 while Redis answers; 0: this replica serves from its own cache with a "
                "per-process rate limit",
                multiprocess_mode="livemin",
                registry=self.registry,
            )
        self.redis_reachable.set(1 if up else 0)

    def redis_error(self, op: str) -> None:
        self.redis_errors.labels(op).inc()

    # -- RecorderObserver (learning.recorder)
    def observations_recorded(self, n: int) -> None:
        self.observations_recorded_total.inc(n)

    def observations_lost(self, n: int) -> None:
        self.observations_lost_total.inc(n)

    def store_failed(self) -> None:
        self.store_failures.inc()

    # -- DriftObserver (learning.drift)
    def drift(self, report: DriftReport) -> None:
        """The gauges from the report's newest full window that is not small (none: left as
        they were); the counter once per such window that warns (a report recomputed over the
        same window does not count it again; per process: compute drift in one)."""
        w = report.latest
        if w is None:
            return
        key = (report.rubric, report.axis)
        fingerprint = w.fingerprint[:12]
        gauges = (
            self.drift_psi,
            self.drift_mean_confidence,
            self.drift_none_fits_share,
            self.drift_estimated_accuracy,
            self.drift_observed_accuracy,
        )
        old = self._drift_fingerprint.get(key)
        if old is not None and old != fingerprint and _multiproc_dir() is None:
            # an edited rubric: the old fingerprint's series would go stale (the files of
            # multiprocess mode cannot drop a series: there it stays, at its last value)
            for g in gauges:
                g.remove(report.rubric, old, report.axis)
        self._drift_fingerprint[key] = fingerprint
        values = (
            w.psi,
            w.mean_confidence,
            w.none_fits_share,
            math.nan if w.estimated_accuracy is None else w.estimated_accuracy,
            math.nan if w.observed_accuracy is None else w.observed_accuracy,
        )
        for g, value in zip(gauges, values, strict=True):
            g.labels(report.rubric, fingerprint, report.axis).set(value)
        if w.warn and self._drift_counted.get(key) != w.start:
            self._drift_counted[key] = w.start
            self.drift_warnings.labels(report.rubric, report.axis).inc()

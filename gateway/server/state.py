"""What the routes read: the settings, the metrics, the rubric store and, once the model has
loaded, the classifier."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import NamedTuple

from gateway.config import PROVIDER_SCORERS, Settings
from gateway.learning.recorder import Recorder
from gateway.pipeline import Classifier, build_classifier, check_classifier
from gateway.providers import ProviderHealth
from gateway.redaction import Redactor, SpacyModel
from gateway.rubrics import RubricStore
from gateway.schemas import ClassifyResponse
from gateway.scoring import LocalScorer, Scorer
from gateway.server.drift_watch import DriftWatch
from gateway.server.metrics import Metrics
from gateway.server.telemetry import request_id_var
from gateway.shared import RedisLink
from gateway.store import Store, open_store

log = logging.getLogger("gateway")


class Parts(NamedTuple):
    """Stages given to ``create_app`` instead of built from settings (None: built)."""

    local: LocalScorer | None = None
    nlp: SpacyModel | None = None
    redactor: Redactor | None = None
    scorer: Scorer | None = None


class AppState:
    """What the routes read; ``classifier`` is None until the model has loaded."""

    def __init__(
        self, settings: Settings, metrics: Metrics, parts: Parts, link: RedisLink | None = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.link = link  # Redis, shared by the replicas (GATEWAY_REDIS_URL); the app's
        self.rubrics = RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s)
        self.classifier: Classifier | None = None
        self.store: Store | None = None  # the labelled-data store, unless GATEWAY_STORE_ENABLED=0
        self.recorder: Recorder | None = None
        self.drift: DriftWatch | None = None
        self.startup_error: str | None = None
        self.loaded = threading.Event()
        self._parts = parts
        # the provider's reachability for /healthz, when the scorer built here calls one
        self.provider_health: ProviderHealth | None = (
            ProviderHealth(settings.provider)
            if parts.scorer is None and settings.scorer_kind in PROVIDER_SCORERS
            else None
        )

    def load(self) -> None:
        try:
            if self.settings.store.enabled:
                # migrations run here, in the loader thread; a store that cannot be opened
                # fails the start with its reason, like an unusable model file
                self.store = open_store(self.settings.store.url)
            classifier = build_classifier(
                self.settings,
                rubrics=self.rubrics,
                local=self._parts.local,
                nlp=self._parts.nlp,
                redactor=self._parts.redactor,
                scorer=self._parts.scorer,
                observer=self.metrics,
                registry=self.store,
                provider_health=self.provider_health,
                link=self.link,
            )
            try:
                # This loader thread has no event loop, so the check gets its own. Safe: litellm
                # keys its cached HTTP clients by event loop, so none opened here is reused by
                # the server's loop; the scorers' semaphores bind to a loop only when contended.
                asyncio.run(check_classifier(classifier))
            except BaseException:
                classifier.close()
                raise
            if self.store is not None:
                self.recorder = Recorder(
                    self.store, self.settings.store, heads=classifier.heads, observer=self.metrics
                )
                self.drift = DriftWatch(self.store, self.rubrics, self.settings.store, self.metrics)
                self.drift.start()
            self.classifier = classifier
        except Exception as exc:  # reported by /healthz and the log, not swallowed
            self.startup_error = f"{type(exc).__name__}: {exc}"
            log.error("start-up failed: %s", self.startup_error)
        finally:
            self.loaded.set()

    def record(self, resp: ClassifyResponse, index: int | None = None) -> None:
        """Hand a response to the store's writer (never blocks). A batch's ticket ``i`` is
        recorded under request id ``<request id>/<i>``, so feedback can name one ticket."""
        if self.recorder is not None:
            rid = request_id_var.get()
            if rid is not None and index is not None:
                rid = f"{rid}/{index}"
            self.recorder.submit(resp, rid)

    def close(self) -> None:
        if self.drift is not None:
            self.drift.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.classifier is not None:
            self.classifier.close()
        if self.store is not None:
            self.store.close()

"""What the routes read: the settings, the metrics, the rubric store and, once the model has
loaded, the classifier."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import NamedTuple

from gateway.config import Settings
from gateway.pipeline import Classifier, build_classifier, check_classifier
from gateway.redaction import Redactor, SpacyModel
from gateway.rubrics import RubricStore
from gateway.scoring import LocalScorer, Scorer
from gateway.server.metrics import Metrics

log = logging.getLogger("gateway")


class Parts(NamedTuple):
    """Stages given to ``create_app`` instead of built from settings (None: built)."""

    local: LocalScorer | None = None
    nlp: SpacyModel | None = None
    redactor: Redactor | None = None
    scorer: Scorer | None = None


class AppState:
    """What the routes read; ``classifier`` is None until the model has loaded."""

    def __init__(self, settings: Settings, metrics: Metrics, parts: Parts) -> None:
        self.settings = settings
        self.metrics = metrics
        self.rubrics = RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s)
        self.classifier: Classifier | None = None
        self.startup_error: str | None = None
        self.loaded = threading.Event()
        self._parts = parts

    def load(self) -> None:
        try:
            classifier = build_classifier(
                self.settings,
                rubrics=self.rubrics,
                local=self._parts.local,
                nlp=self._parts.nlp,
                redactor=self._parts.redactor,
                scorer=self._parts.scorer,
                observer=self.metrics,
            )
            try:
                # This loader thread has no event loop, so the check gets its own. Safe: litellm
                # keys its cached HTTP clients by event loop, so none opened here is reused by
                # the server's loop; the scorers' semaphores bind to a loop only when contended.
                asyncio.run(check_classifier(classifier))
            except BaseException:
                classifier.close()
                raise
            self.classifier = classifier
        except Exception as exc:  # reported by /healthz and the log, not swallowed
            self.startup_error = f"{type(exc).__name__}: {exc}"
            log.error("start-up failed: %s", self.startup_error)
        finally:
            self.loaded.set()

    def close(self) -> None:
        if self.classifier is not None:
            self.classifier.close()

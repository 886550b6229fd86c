"""The server's drift watch: every ``GATEWAY_DRIFT_INTERVAL_S``, a drift report per rubric set
and axis from the store, into the Prometheus gauges (and the PSI warning: log + counter).

A thread of its own, off the event loop: a report reads the store's points of the last
``GATEWAY_DRIFT_DAYS``. With several workers, each computes the same gauges (the
multiprocess collector keeps the most recent); the warning is logged and counted per worker.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from gateway.config import StoreSettings
from gateway.errors import GatewayError
from gateway.learning.drift import DriftObserver, DriftOptions, drift_report
from gateway.rubrics import RubricStore
from gateway.store import Store

log = logging.getLogger(__name__)


class DriftWatch:
    def __init__(
        self, store: Store, rubrics: RubricStore, settings: StoreSettings, observer: DriftObserver
    ) -> None:
        self.store = store
        self.rubrics = rubrics
        self.settings = settings
        self.observer = observer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drift-watch", daemon=True)

    def start(self) -> None:
        if self.settings.drift_interval_s > 0:
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def check(self, now: datetime | None = None) -> int:
        """One pass over every rubric set and axis; returns the reports made."""
        now = now or datetime.now(UTC)
        since = now - timedelta(days=self.settings.drift_days)
        options = DriftOptions(
            window=timedelta(hours=self.settings.drift_window_h), since=since, as_of=now
        )
        made = 0
        for info in self.rubrics.list():
            for axis, labels in info.axes.items():
                points = self.store.drift_points(rubric=info.name, axis=axis, since=since)
                if not points:
                    continue
                drift_report(
                    points,
                    rubric=info.name,
                    axis=axis,
                    labels=labels,
                    options=options,
                    observer=self.observer,
                )
                made += 1
        return made

    def _run(self) -> None:
        while not self._stop.wait(self.settings.drift_interval_s):
            try:
                self.check()
            except GatewayError as exc:  # the store is down: the next pass tries again
                log.warning("drift watch skipped a pass: %s", exc.code)

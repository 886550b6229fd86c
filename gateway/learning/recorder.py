"""The recorder: every classified ticket becomes an observation in the store, off the request path.

``submit`` never blocks a request: it puts the response on a bounded queue that one writer
thread drains in batches. The writer scores each batch with the heads in shadow (their answers
are stored, never returned), keeps the redacted text only for the decisions the store keeps text
for (``GATEWAY_STORE_TEXT_FOR``) and writes the batch in one transaction. A store outage is
retried with backoff, the batch kept, so an accepted observation is not dropped while the store
recovers; only a queue past ``GATEWAY_STORE_MAX_PENDING`` loses new ones, counted and logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from gateway.config import StoreSettings
from gateway.errors import GatewayError
from gateway.pipeline import Heads
from gateway.rubrics import RubricSet
from gateway.schemas import ClassifyResponse
from gateway.scoring import TrainedHead
from gateway.store import AxisSnapshot, Observation, ShadowPrediction, Snapshot, Store

log = logging.getLogger(__name__)

_BATCH = 256
_BACKOFF_MAX_S = 10.0
_STOP = object()


class RecorderObserver(Protocol):
    """Told what the recorder did; the server's metrics."""

    def observations_recorded(self, n: int) -> None: ...

    def observations_lost(self, n: int) -> None: ...

    def store_failed(self) -> None: ...


class NullRecorderObserver:
    def observations_recorded(self, n: int) -> None:
        pass

    def observations_lost(self, n: int) -> None:
        pass

    def store_failed(self) -> None:
        pass


class Pending:
    """A response waiting for the writer, with the request id it was answered under."""

    __slots__ = ("request_id", "response")

    def __init__(self, response: ClassifyResponse, request_id: str | None) -> None:
        self.response = response
        self.request_id = request_id


def snapshot_of(resp: ClassifyResponse, request_id: str | None, at: datetime) -> Snapshot:
    """What the model said, without text or the caller's metadata."""
    # the response carries its primary axis' fields itself, the other axes as AxisResults:
    # the same names, read the same way
    axes = {resp.axis: AxisSnapshot.model_validate(resp, from_attributes=True)}
    for name, result in resp.axes.items():
        axes[name] = AxisSnapshot.model_validate(result, from_attributes=True)
    return Snapshot(
        rubric=resp.rubric.name,
        fingerprint=resp.rubric.fingerprint,
        axis=resp.axis,
        axes=axes,
        decision=resp.decision,
        reason=resp.reason,
        prompt=resp.prompt,
        model=resp.model,
        scorer=resp.scorer,
        calibration=resp.calibration,
        fallback=resp.fallback,
        request_id=request_id,
        at=at,
    )


def shadow_predictions(head: TrainedHead, embeddings: np.ndarray) -> list[ShadowPrediction]:
    """One head's answer per embedded ticket."""
    probs = head.predict_proba(embeddings)
    labels = head.meta.labels
    out = []
    for row in probs:
        order = np.argsort(row)[::-1]
        top = float(row[order[0]])
        second = float(row[order[1]]) if len(order) > 1 else 0.0
        out.append(
            ShadowPrediction(
                model_id=head.meta.id,
                axis=head.meta.axis,
                top_label=labels[int(order[0])],
                confidence=round(top, 4),
                margin=round(top - second, 4),
                scores={label: round(float(p), 4) for label, p in zip(labels, row, strict=True)},
            )
        )
    return out


class Recorder:
    def __init__(
        self,
        store: Store,
        settings: StoreSettings,
        *,
        heads: Heads | None = None,
        observer: RecorderObserver | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.heads = heads
        self.observer = observer or NullRecorderObserver()
        self._text_for = frozenset(settings.text_for)
        self._queue_for = frozenset(settings.queue_for) & self._text_for
        self._queue: queue.Queue[Pending | object] = queue.Queue(maxsize=settings.max_pending)
        self._closing = threading.Event()
        self._lost_logged = 0.0
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, resp: ClassifyResponse, request_id: str | None) -> None:
        """Queue a response for the store; never blocks. Inline-label rubrics are not kept:
        nothing could be trained or reviewed against labels that exist in one request only."""
        if resp.rubric.name == RubricSet.INLINE or resp.redacted_text is None:
            return
        try:
            self._queue.put_nowait(Pending(resp, request_id))
        except queue.Full:
            self.observer.observations_lost(1)
            now = time.monotonic()
            if now - self._lost_logged > 60:
                self._lost_logged = now
                log.warning(
                    "store writer is %d observations behind (GATEWAY_STORE_MAX_PENDING): new "
                    "ones are not stored",
                    self.settings.max_pending,
                )

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, then stop the writer."""
        self._closing.set()
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        left = self._queue.qsize()
        if self._thread.is_alive() or left:
            log.error("store writer stopped with %d observation(s) not written", left)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch: list[Pending] = []
            stop = first is _STOP
            if isinstance(first, Pending):
                batch.append(first)
            while len(batch) < _BATCH and not stop:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Pending):
                    batch.append(item)
                else:
                    stop = True
            if batch:
                self._write(batch)
            for _ in range(len(batch) + (1 if stop else 0)):
                self._queue.task_done()
            if stop:
                return

    def _write(self, batch: Sequence[Pending]) -> None:
        try:
            observations = self._observations(batch)
        except Exception:  # a bug in shadow scoring must not cost the observations
            log.exception("shadow scoring failed; observations stored without shadow")
            observations = self._observations(batch, shadow=False)
        delay = 0.5
        while True:
            try:
                self.store.record(observations)
                self.observer.observations_recorded(len(observations))
                return
            except GatewayError as exc:
                self.observer.store_failed()
                if self._closing.is_set() and delay > _BACKOFF_MAX_S:
                    log.error("store unavailable at shutdown: %d observation(s) lost", len(batch))
                    self.observer.observations_lost(len(batch))
                    return
                log.warning("store write failed (%s); retrying in %.1f s", exc.code, delay)
                time.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S * 2)

    def _observations(self, batch: Sequence[Pending], shadow: bool = True) -> list[Observation]:
        now = datetime.now(UTC)
        shadows: list[list[ShadowPrediction]] = [[] for _ in batch]
        if shadow and self.heads is not None:
            groups: dict[tuple[str, str], list[int]] = {}
            for i, p in enumerate(batch):
                ref = p.response.rubric
                groups.setdefault((ref.name, ref.fingerprint), []).append(i)
            for (name, fingerprint), indices in groups.items():
                heads = self.heads.shadows(name, fingerprint)
                if not heads:
                    continue
                texts = [batch[i].response.redacted_text or "" for i in indices]
                embedded = self.heads.encoder.embed(texts)
                for head in heads:
                    for i, prediction in zip(
                        indices, shadow_predictions(head, embedded), strict=True
                    ):
                        shadows[i].append(prediction)
        return [
            Observation(
                snapshot=snapshot_of(p.response, p.request_id, now),
                text=p.response.redacted_text if p.response.decision in self._text_for else None,
                external_id=self._external_id(p.response),
                shadow=shadows[i],
                queued=p.response.decision in self._queue_for,
            )
            for i, p in enumerate(batch)
        ]

    def _external_id(self, resp: ClassifyResponse) -> str | None:
        for key in self.settings.external_id_keys:
            value = resp.metadata.get(key)
            if value:
                return value[:200]
        return None

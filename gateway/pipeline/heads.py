"""Trained heads in service: which are in shadow or promoted for a rubric, as the registry says.

The registry (the store's ``models`` table) is reread every ``refresh_s`` seconds, so that
``rubric promote`` or ``rubric shadow`` from another process takes effect on a running server
without a restart; each artefact is loaded (and hash-checked) once per model id. A head serves
only the rubric content it was trained for: after a rubric edit its fingerprint no longer
matches and it is left out (logged once) until it is retrained.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gateway.errors import GatewayError
from gateway.scoring import Encoder, HeadCascade, HeadScorer, Scorer, TrainedHead, load_head
from gateway.store import ModelRecord, ModelStage

log = logging.getLogger(__name__)


class HeadRegistry(Protocol):
    """What ``Heads`` reads: the store's model registry."""

    def staged(self, rubric: str, stage: ModelStage) -> list[ModelRecord]: ...


class Heads:
    """``promoted`` gives the scorer a rubric is served by once a head is promoted (the head
    first, ``inner`` where it is unsure, served as every scorer is: ``wrap``); ``shadows`` the
    heads that score beside the live scorer."""

    def __init__(
        self,
        registry: HeadRegistry,
        encoder: Encoder,
        *,
        inner: Scorer,
        wrap: Callable[[Scorer], Scorer],
        refresh_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.encoder = encoder
        self.inner = inner
        self.wrap = wrap
        self.refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._staged: dict[tuple[str, ModelStage], tuple[float, list[ModelRecord]]] = {}
        self._loaded: dict[str, TrainedHead | None] = {}
        self._served: dict[str, Scorer] = {}
        self._warned: set[tuple[str, str]] = set()

    def _records(self, rubric: str, stage: ModelStage) -> list[ModelRecord]:
        key = (rubric, stage)
        now = self._clock()
        with self._lock:
            hit = self._staged.get(key)
        if hit is not None and now - hit[0] < self.refresh_s:
            return hit[1]
        try:
            records = self.registry.staged(rubric, stage)
        except GatewayError as exc:
            # the store is down: keep serving what was known (or nothing), say so once a refresh
            log.warning("model registry unavailable (%s); heads for %s unchanged", exc.code, rubric)
            records = hit[1] if hit is not None else []
        with self._lock:
            self._staged[key] = (now, records)
        return records

    def _head(self, record: ModelRecord, fingerprint: str) -> TrainedHead | None:
        if record.fingerprint != fingerprint:
            if (record.id, fingerprint) not in self._warned:
                self._warned.add((record.id, fingerprint))
                log.warning(
                    "%s (%s) was trained for another version of rubric %s; not used until "
                    "retrained (rubric train)",
                    record.id,
                    record.stage,
                    record.rubric,
                )
            return None
        with self._lock:
            if record.id in self._loaded:
                return self._loaded[record.id]
        try:
            head: TrainedHead | None = load_head(
                Path(record.path), encoder_sha256=self.encoder.sha256
            )
        except GatewayError as exc:
            log.error("%s cannot be loaded: %s", record.id, exc.message)
            head = None
        with self._lock:
            self._loaded[record.id] = head
        return head

    def shadows(self, rubric: str, fingerprint: str) -> list[TrainedHead]:
        heads = (self._head(r, fingerprint) for r in self._records(rubric, "shadow"))
        return [head for head in heads if head is not None]

    def promoted(self, rubric: str, fingerprint: str) -> Scorer | None:
        """The served scorer for a rubric with a promoted head, or None."""
        for record in self._records(rubric, "promoted"):
            head = self._head(record, fingerprint)
            if head is None:
                continue
            with self._lock:
                served = self._served.get(record.id)
            if served is None:
                served = self.wrap(HeadCascade(HeadScorer(self.encoder, head), self.inner))
                with self._lock:
                    served = self._served.setdefault(record.id, served)
            return served
        return None

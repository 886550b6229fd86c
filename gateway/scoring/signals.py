"""Signals: packaged trained heads that answer an axis on the embedded path from the ticket's
own embedding (one small matrix product beside the rubric's cosines), where the rubric's
questions cannot: an encoder measures topic, not tone.

A rubric axis asks for one with ``signal: sentiment`` (its labels are the head's). The head is
the learning loop's ``TrainedHead`` (same files, same checks), fitted by
``evals/sentiment/fit_head.py`` on TweetEval sentiment's larger split and shipped in
``gateway/models/signals/<signal>/``. A head fitted on another encoder's embeddings is not
served: the axis is then answered by its questions, and the start-up log says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

from gateway.errors import ModelFileError
from gateway.rubrics import RubricSet, Thresholds
from gateway.rubrics.fields import SIGNAL_LABELS
from gateway.schemas import Evidence
from gateway.scoring.base import AxisScores
from gateway.scoring.distribution import top_label
from gateway.scoring.encoder import Matrix
from gateway.scoring.head import META_FILE, TrainedHead, load_head, relative_raw

log = logging.getLogger(__name__)

PACKAGED = Path(__file__).resolve().parent.parent / "models" / "signals"


def load_signal_heads(encoder_sha256: str, root: Path = PACKAGED) -> dict[str, TrainedHead]:
    """The packaged heads this encoder can serve, by signal name."""
    heads: dict[str, TrainedHead] = {}
    for signal in SIGNAL_LABELS:
        directory = root / signal
        if not (directory / META_FILE).exists():
            continue
        try:
            head = load_head(directory, encoder_sha256=encoder_sha256)
        except ModelFileError as exc:
            log.warning("signal %s not served (its axes answer their questions): %s", signal, exc)
            continue
        if sorted(head.meta.labels) != sorted(SIGNAL_LABELS[signal]):
            log.warning("signal %s not served: its head's labels are %s", signal, head.meta.labels)
            continue
        heads[signal] = head
    return heads


def signal_axes(rubric: RubricSet, axes: list[str], heads: dict[str, TrainedHead]) -> set[str]:
    """The axes of a request that a packaged head answers."""
    return {a for a in axes if (s := rubric.axes[a].signal) is not None and s in heads}


def signal_scores(head: TrainedHead, rows: Matrix, names: list[str]) -> AxisScores:
    """One ticket's answer from its embedded rows (a long ticket's windows: their mean
    probability, since tone belongs to the whole ticket), labels in the axis' order."""
    mean = head.predict_proba(rows).mean(axis=0)
    values = dict(zip(head.meta.labels, mean.tolist(), strict=True))
    scores = {name: values[name] for name in names}
    evidence = Evidence(source="head", label=top_label(scores), head=head.meta.id)
    return AxisScores(raw=relative_raw(scores), scores=scores, evidence=evidence)


def signal_thresholds(
    rubric: RubricSet, axes: set[str], heads: dict[str, TrainedHead]
) -> dict[str, Thresholds]:
    """The head's fitted thresholds for a signal axis whose rubric sets none of its own."""
    out: dict[str, Thresholds] = {}
    for axis in axes:
        signal = rubric.axes[axis].signal
        if signal is not None and rubric.axes[axis].thresholds is None:
            out[axis] = heads[signal].meta.thresholds
    return out

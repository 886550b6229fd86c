"""The evidence for a head: live scorer vs head on the audit sample of the review queue.

The audit picks are the share of the queue drawn at random (``GATEWAY_REVIEW_EXPLORE``); the
rest is chosen where the shadow head is least sure, a sample that would judge any head worse
than it is. Live's answer on each is the one it served (stored with the ticket), so only picks
classified since the axis' live configuration began count: since the promoted head (if any)
was promoted. The head trained on every label, audit picks included, so its answers on them are
cross-fitted: the picks in k folds, each answered by a head trained on every label but that
fold's (the same options, fewer folds inside). Both are compared with the harness' paired tools:
bootstrap CIs of the macro-F1 and accuracy deltas and McNemar's test on correctness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from gateway.errors import NotEnoughLabelsError
from gateway.evals import (
    Interval,
    McNemar,
    accuracy_of,
    bootstrap_delta,
    macro_f1_from_arrays,
    mcnemar,
)
from gateway.learning.train import TrainingExample, TrainOptions, train_head
from gateway.rubrics import RubricSet
from gateway.scoring import Embedder, TrainedHead
from gateway.store import LabelledExample, ModelRecord, Store

ALPHA = 0.05


class Evidence(BaseModel):
    """Live (A) against the head (B) on the same held-out corrections."""

    model_id: str
    rubric: str
    axis: str
    n: int = Field(description="audit picks compared")
    folds: int = Field(description="cross-fitted folds the head's answers come from")
    live_accuracy: float
    head_accuracy: float
    live_macro_f1: float
    head_macro_f1: float
    delta_macro_f1: Interval
    delta_accuracy: Interval
    mcnemar: McNemar
    agreement: float = Field(description="share of tickets where live and head agree")
    alpha: float = ALPHA

    @property
    def head_better(self) -> bool:
        """The head is more often right and McNemar says it is not chance."""
        return (
            self.n > 0
            and self.head_accuracy > self.live_accuracy
            and self.mcnemar.p_value < self.alpha
        )

    def summary(self) -> str:
        return (
            f"{self.n} held-out audit picks: live accuracy {self.live_accuracy:.3f}, macro-F1 "
            f"{self.live_macro_f1:.3f}; head accuracy {self.head_accuracy:.3f}, macro-F1 "
            f"{self.head_macro_f1:.3f} (Δ {self.delta_macro_f1.estimate:+.3f}, 95% CI "
            f"[{self.delta_macro_f1.low:+.3f}, {self.delta_macro_f1.high:+.3f}]); McNemar "
            f"b={self.mcnemar.b} c={self.mcnemar.c} p={self.mcnemar.p_value:.3g}; agreement "
            f"{self.agreement:.1%}"
        )


def held_out(store: Store, record: ModelRecord) -> list[LabelledExample]:
    """The audit picks of the head's rubric axis, with their text, classified while the axis'
    live configuration served (for a promoted head: before it was promoted)."""
    since = until = None
    if record.stage == "promoted":
        until = record.staged_at
    else:
        live = [r for r in store.staged(record.rubric, "promoted") if r.axis == record.axis]
        since = live[0].staged_at if live else None
    return [
        e
        for e in store.export(rubric=record.rubric, axis=record.axis)
        if e.text is not None
        and e.picked == "random"
        and (since is None or e.classified_at >= since)
        and (until is None or e.classified_at < until)
    ]


def crossfit_answers(
    head: TrainedHead,
    labelled: Sequence[LabelledExample],
    audit: Sequence[LabelledExample],
    rubric: RubricSet,
    encoder: Embedder,
    options: TrainOptions,
    *,
    folds: int = 5,
) -> tuple[list[str], int]:
    """The head's answer on each audit pick from a head that never saw it; a fold whose
    removal leaves a label without examples is answered by ``head`` itself (counted out of
    the folds returned)."""
    k = max(1, min(folds, len(audit)))
    order = np.random.default_rng(options.seed).permutation(len(audit))
    answers: list[str] = [""] * len(audit)
    inner = options.model_copy(update={"folds": 2})
    fitted = 0
    for f in range(k):
        fold = [int(i) for i in order[f::k]]
        held = {audit[i].id for i in fold}
        train = [
            TrainingExample(text=e.text, label=e.label)
            for e in labelled
            if e.id not in held and e.text is not None
        ]
        try:
            model, _ = train_head(
                train, rubric, head.meta.axis, encoder, version=head.meta.version, options=inner
            )
            fitted += 1
        except NotEnoughLabelsError:
            model = head
        probs = model.predict_proba(encoder.embed([audit[i].text or "" for i in fold]))
        for i, row in zip(fold, probs, strict=True):
            answers[i] = model.meta.labels[int(np.argmax(row))]
    return answers, fitted


def compare(
    record: ModelRecord,
    labels: Sequence[str],
    answers: Sequence[str],
    examples: Sequence[LabelledExample],
    *,
    folds: int,
    alpha: float = ALPHA,
    n_resamples: int = 1000,
) -> Evidence:
    index = {label: i for i, label in enumerate(labels)}
    other = len(labels)  # a live answer the axis no longer has: wrong for every gold label
    kept = [i for i, e in enumerate(examples) if e.label in index]
    gold = np.array([index[examples[i].label] for i in kept], dtype=np.int64)
    live = np.array([index.get(examples[i].predicted, other) for i in kept], dtype=np.int64)
    mine = np.array([index.get(answers[i], other) for i in kept], dtype=np.int64)
    n_labels = len(labels)

    def f1(t: np.ndarray, p: np.ndarray) -> float:
        return macro_f1_from_arrays(t, p, n_labels)

    return Evidence(
        model_id=record.id,
        rubric=record.rubric,
        axis=record.axis,
        n=len(kept),
        folds=folds,
        live_accuracy=accuracy_of(gold, live),
        head_accuracy=accuracy_of(gold, mine),
        live_macro_f1=f1(gold, live),
        head_macro_f1=f1(gold, mine),
        delta_macro_f1=bootstrap_delta(f1, gold, live, mine, n_resamples=n_resamples),
        delta_accuracy=bootstrap_delta(accuracy_of, gold, live, mine, n_resamples=n_resamples),
        mcnemar=mcnemar(live == gold, mine == gold),
        agreement=float((live == mine).mean()) if len(kept) else 0.0,
        alpha=alpha,
    )

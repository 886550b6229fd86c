"""Classification metrics for the eval harness: plain numpy, no scikit-learn at run time.

Every function takes arrays and returns numbers or small pydantic models, so the harness and the
tests share one implementation. Labels are integer indices into a label list the caller keeps;
``-1`` in ``y_pred`` means "no prediction" (counts as wrong). Conventions follow scikit-learn
where it has the same metric (the tests check that), so numbers here can be compared with
published ones. Confidence metrics are in ``confidence``, paired statistics in ``paired``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel

from gateway.evals.arrays import BoolArray, FloatArray, IntArray, floats, ints, safe_div


class LabelStats(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


def _per_label(
    labels: Sequence[str],
    precision: FloatArray,
    recall: FloatArray,
    f1: FloatArray,
    support: ArrayLike,
    present: BoolArray,
) -> dict[str, LabelStats]:
    """Per-label stats for the labels that occur in the truth or the predictions."""
    counts = np.asarray(support)
    return {
        label: LabelStats(
            precision=float(precision[i]),
            recall=float(recall[i]),
            f1=float(f1[i]),
            support=int(counts[i]),
        )
        for i, label in enumerate(labels)
        if present[i]
    }


class ClassMetrics(BaseModel):
    accuracy: float
    macro_f1: float
    weighted_f1: float
    macro_precision: float
    macro_recall: float
    per_label: dict[str, LabelStats]


class Share(BaseModel):
    """One routing outcome: how many tickets went there and how many of those were right."""

    n: int
    share: float
    accuracy: float | None


class Routing(BaseModel):
    auto_route: Share
    review: Share
    manual: Share


# --------------------------------------------------------------------------- classification


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_labels: int) -> IntArray:
    """Rows: gold label, columns: predicted label. Predictions outside [0, n) are dropped."""
    t, p = ints(y_true), ints(y_pred)
    keep = (p >= 0) & (p < n_labels) & (t >= 0) & (t < n_labels)
    flat = t[keep] * n_labels + p[keep]
    counts: IntArray = np.bincount(flat, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    return counts


def _prf(tp: FloatArray, fp: FloatArray, fn: FloatArray) -> tuple[FloatArray, ...]:
    precision = safe_div(tp, tp + fp)
    recall = safe_div(tp, tp + fn)
    f1 = safe_div(2 * tp, 2 * tp + fp + fn)
    return precision, recall, f1


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[str]
) -> ClassMetrics:
    """Accuracy, macro/weighted F1 and per-label P/R/F1.

    Macro averages run over the labels that have gold tickets in the set (scikit-learn's
    ``labels=`` the gold labels), so neither a rubric label nobody has nor one only predicted
    moves the mean: a label with no gold ticket has no recall to measure, and its wrong
    predictions already lower the recall of the labels they were taken from. ``per_label``
    lists every label that occurs in gold or predictions.
    """
    t, p = ints(y_true), ints(y_pred)
    n = len(labels)
    if t.size == 0:
        return ClassMetrics(
            accuracy=0.0,
            macro_f1=0.0,
            weighted_f1=0.0,
            macro_precision=0.0,
            macro_recall=0.0,
            per_label={},
        )
    valid_p = (p >= 0) & (p < n)
    tp = np.bincount(t[(t == p) & valid_p], minlength=n).astype(np.float64)
    support = np.bincount(t, minlength=n).astype(np.float64)
    predicted = np.bincount(p[valid_p], minlength=n).astype(np.float64)
    fp = predicted - tp
    fn = support - tp
    precision, recall, f1 = _prf(tp, fp, fn)
    present = (support > 0) | (predicted > 0)
    gold = support > 0
    total = support.sum()
    return ClassMetrics(
        accuracy=float((t == p).mean()),
        macro_f1=_mean_over(f1, gold),
        weighted_f1=float((f1 * support).sum() / total) if total else 0.0,
        macro_precision=_mean_over(precision, gold),
        macro_recall=_mean_over(recall, gold),
        per_label=_per_label(labels, precision, recall, f1, support, present),
    )


def _mean_over(values: FloatArray, labels: BoolArray) -> float:
    """The mean over the selected labels (the gold ones); 0 when none is."""
    return float(values[labels].mean()) if labels.any() else 0.0


def macro_f1_from_arrays(y_true: IntArray, y_pred: IntArray, n_labels: int) -> float:
    """Macro-F1 over the gold labels without the per-label models: the bootstrap's inner loop."""
    valid_p = (y_pred >= 0) & (y_pred < n_labels)
    tp = np.bincount(y_true[(y_true == y_pred) & valid_p], minlength=n_labels)
    support = np.bincount(y_true, minlength=n_labels)
    predicted = np.bincount(y_pred[valid_p], minlength=n_labels)
    f1 = safe_div((2 * tp).astype(np.float64), (support + predicted).astype(np.float64))
    return _mean_over(f1, support > 0)


class MultiLabelMetrics(BaseModel):
    micro_f1: float
    macro_f1: float
    weighted_f1: float
    macro_precision: float
    macro_recall: float
    micro_precision: float
    micro_recall: float
    exact_match: float
    per_label: dict[str, LabelStats]


def multilabel_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[str]
) -> MultiLabelMetrics:
    """Indicator matrices (tickets × labels). Macro over the labels with gold tickets (as
    ``classification_metrics``); ``per_label`` over those with gold or predicted ones."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp = (t & p).sum(axis=0).astype(np.float64)
    fp = (~t & p).sum(axis=0).astype(np.float64)
    fn = (t & ~p).sum(axis=0).astype(np.float64)
    precision, recall, f1 = _prf(tp, fp, fn)
    support = t.sum(axis=0)
    present = (support > 0) | (p.sum(axis=0) > 0)
    gold = support > 0
    stp, sfp, sfn = tp.sum(), fp.sum(), fn.sum()
    return MultiLabelMetrics(
        micro_f1=float(2 * stp / (2 * stp + sfp + sfn)) if stp + sfp + sfn else 0.0,
        macro_f1=_mean_over(f1, gold),
        weighted_f1=float((f1 * support).sum() / support.sum()) if support.sum() else 0.0,
        macro_precision=_mean_over(precision, gold),
        macro_recall=_mean_over(recall, gold),
        micro_precision=float(stp / (stp + sfp)) if stp + sfp else 0.0,
        micro_recall=float(stp / (stp + sfn)) if stp + sfn else 0.0,
        exact_match=float((t == p).all(axis=1).mean()) if t.shape[0] else 0.0,
        per_label=_per_label(labels, precision, recall, f1, support, present),
    )


# --------------------------------------------------------------------------- routing, timing


def routing(
    decisions: Sequence[str], correct: ArrayLike, outcomes: Sequence[str] = ("auto_route",)
) -> Routing:
    """Share of tickets per decision and the accuracy inside each (escalate counts as manual)."""
    ok = np.asarray(correct, dtype=bool)
    n = len(decisions)
    kinds = np.array(
        ["manual" if d == "escalate" else d for d in decisions] if n else [], dtype=object
    )

    def share(kind: str) -> Share:
        mask = kinds == kind
        count = int(mask.sum())
        return Share(
            n=count,
            share=count / n if n else 0.0,
            accuracy=float(ok[mask].mean()) if count else None,
        )

    return Routing(auto_route=share("auto_route"), review=share("review"), manual=share("manual"))


def percentile(values: ArrayLike, q: float) -> float | None:
    v = floats(values)
    return float(np.percentile(v, q)) if v.size else None

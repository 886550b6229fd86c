"""Metric functions for the eval harness: plain numpy, no scikit-learn at run time.

Every function takes arrays and returns numbers or small pydantic models, so the harness, the
calibration fitter and the tests share one implementation. Labels are integer indices into a
label list the caller keeps; ``-1`` in ``y_pred`` means "no prediction" (counts as wrong).
Conventions follow scikit-learn where it has the same metric (the tests check that), so numbers
here can be compared with published ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


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


class ReliabilityBin(BaseModel):
    lower: float
    upper: float
    count: int
    confidence: float | None
    accuracy: float | None


class CoveragePoint(BaseModel):
    threshold: float
    coverage: float
    accuracy: float | None


class Interval(BaseModel):
    estimate: float
    low: float
    high: float


class McNemar(BaseModel):
    """Paired test on the same tickets. ``b``: right in A only; ``c``: right in B only."""

    b: int
    c: int
    statistic: float | None
    p_value: float
    method: str


def _ints(values: ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def _floats(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _div(num: FloatArray, den: FloatArray) -> FloatArray:
    # 0/0 is 0, as scikit-learn's zero_division=0
    out: FloatArray = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out


# --------------------------------------------------------------------------- classification


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_labels: int) -> IntArray:
    """Rows: gold label, columns: predicted label. Predictions outside [0, n) are dropped."""
    t, p = _ints(y_true), _ints(y_pred)
    keep = (p >= 0) & (p < n_labels) & (t >= 0) & (t < n_labels)
    flat = t[keep] * n_labels + p[keep]
    counts: IntArray = np.bincount(flat, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    return counts


def _prf(tp: FloatArray, fp: FloatArray, fn: FloatArray) -> tuple[FloatArray, ...]:
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    return precision, recall, f1


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[str]
) -> ClassMetrics:
    """Accuracy, macro/weighted F1 and per-label P/R/F1.

    Macro averages run over the labels that occur in gold or predictions (scikit-learn's default
    label set), so a rubric label nobody predicted and nobody has does not drag the mean to 0.
    """
    t, p = _ints(y_true), _ints(y_pred)
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
    total = support.sum()
    return ClassMetrics(
        accuracy=float((t == p).mean()),
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        weighted_f1=float((f1 * support).sum() / total) if total else 0.0,
        macro_precision=float(precision[present].mean()) if present.any() else 0.0,
        macro_recall=float(recall[present].mean()) if present.any() else 0.0,
        per_label=_per_label(labels, precision, recall, f1, support, present),
    )


def macro_f1_from_arrays(y_true: IntArray, y_pred: IntArray, n_labels: int) -> float:
    """Macro-F1 without the per-label models: the inner loop of the bootstrap."""
    valid_p = (y_pred >= 0) & (y_pred < n_labels)
    tp = np.bincount(y_true[(y_true == y_pred) & valid_p], minlength=n_labels)
    support = np.bincount(y_true, minlength=n_labels)
    predicted = np.bincount(y_pred[valid_p], minlength=n_labels)
    present = (support > 0) | (predicted > 0)
    f1 = _div((2 * tp).astype(np.float64), (support + predicted).astype(np.float64))
    return float(f1[present].mean()) if present.any() else 0.0


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
    """Indicator matrices (tickets × labels). Macro over labels with gold or predicted support."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp = (t & p).sum(axis=0).astype(np.float64)
    fp = (~t & p).sum(axis=0).astype(np.float64)
    fn = (t & ~p).sum(axis=0).astype(np.float64)
    precision, recall, f1 = _prf(tp, fp, fn)
    support = t.sum(axis=0)
    present = (support > 0) | (p.sum(axis=0) > 0)
    stp, sfp, sfn = tp.sum(), fp.sum(), fn.sum()
    return MultiLabelMetrics(
        micro_f1=float(2 * stp / (2 * stp + sfp + sfn)) if stp + sfp + sfn else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        weighted_f1=float((f1 * support).sum() / support.sum()) if support.sum() else 0.0,
        macro_precision=float(precision[present].mean()) if present.any() else 0.0,
        macro_recall=float(recall[present].mean()) if present.any() else 0.0,
        micro_precision=float(stp / (stp + sfp)) if stp + sfp else 0.0,
        micro_recall=float(stp / (stp + sfn)) if stp + sfn else 0.0,
        exact_match=float((t == p).all(axis=1).mean()) if t.shape[0] else 0.0,
        per_label=_per_label(labels, precision, recall, f1, support, present),
    )


# --------------------------------------------------------------------------- calibration


def reliability_bins(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 15
) -> list[ReliabilityBin]:
    """Equal-width confidence bins; the last bin includes 1.0."""
    conf, ok = _floats(confidence), _floats(correct)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin i holds (edges[i], edges[i+1]]; confidence 0 goes to the first bin
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    out = []
    for i in range(n_bins):
        mask = index == i
        count = int(mask.sum())
        out.append(
            ReliabilityBin(
                lower=float(edges[i]),
                upper=float(edges[i + 1]),
                count=count,
                confidence=float(conf[mask].mean()) if count else None,
                accuracy=float(ok[mask].mean()) if count else None,
            )
        )
    return out


def expected_calibration_error(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 15
) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins (Guo et al.)."""
    conf = _floats(confidence)
    if conf.size == 0:
        return 0.0
    total = 0.0
    for b in reliability_bins(conf, correct, n_bins):
        if b.count and b.confidence is not None and b.accuracy is not None:
            total += b.count * abs(b.accuracy - b.confidence)
    return total / conf.size


def brier_score(probs: ArrayLike, y_true: ArrayLike) -> float:
    """Multi-class Brier: mean over tickets of sum_k (p_k - [k = gold])^2 (range 0..2).

    A gold index of -1 (out of scope: no rubric label is right) has an all-zero target.
    """
    p, t = _floats(probs), _ints(y_true)
    if p.shape[0] == 0:
        return 0.0
    target = np.zeros_like(p)
    rows = np.nonzero(t >= 0)[0]
    target[rows, t[rows]] = 1.0
    return float(((p - target) ** 2).sum(axis=1).mean())


def binary_brier(prob: ArrayLike, outcome: ArrayLike) -> float:
    p, y = _floats(prob), _floats(outcome)
    return float(((p - y) ** 2).mean()) if p.size else 0.0


def nll(log_probs: ArrayLike, y_true: ArrayLike) -> float:
    """Mean negative log-likelihood of the gold labels under row-wise log-probabilities."""
    lp, t = _floats(log_probs), _ints(y_true)
    if t.size == 0:
        return 0.0
    return float(-lp[np.arange(t.size), t].mean())


# --------------------------------------------------------------------------- ranking, routing


def auroc(scores: ArrayLike, positive: ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney U, ties count half). None if one class is empty."""
    s = _floats(scores)
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


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


def decide(confidence: ArrayLike, auto_route: float, review: float) -> list[str]:
    """The threshold part of the gateway's decision, for re-deciding after calibration."""
    conf = _floats(confidence)
    return [
        "auto_route" if c >= auto_route else "review" if c >= review else "manual"
        for c in conf.tolist()
    ]


def coverage_curve(
    confidence: ArrayLike, correct: ArrayLike, thresholds: Sequence[float] | None = None
) -> list[CoveragePoint]:
    """Accuracy of the tickets kept (confidence ≥ t) against the share kept, per threshold."""
    conf, ok = _floats(confidence), _floats(correct)
    grid = thresholds if thresholds is not None else np.round(np.linspace(0, 1, 41), 3).tolist()
    out = []
    for t in grid:
        kept = conf >= t
        k = int(kept.sum())
        out.append(
            CoveragePoint(
                threshold=float(t),
                coverage=k / conf.size if conf.size else 0.0,
                accuracy=float(ok[kept].mean()) if k else None,
            )
        )
    return out


def threshold_for_precision(
    confidence: ArrayLike, correct: ArrayLike, precision: float, min_count: int = 1
) -> float | None:
    """The lowest threshold t such that the tickets with confidence ≥ t are right at least
    ``precision`` of the time (and there are ``min_count`` of them); None when none is."""
    conf, ok = _floats(confidence), _floats(correct)
    if conf.size == 0:
        return None
    order = np.argsort(-conf, kind="mergesort")
    sorted_conf = conf[order]
    running = np.cumsum(ok[order]) / np.arange(1, conf.size + 1)
    # only cut between distinct confidences: a threshold keeps every tie
    last_of_tie = np.r_[sorted_conf[1:] != sorted_conf[:-1], True]
    ok_cut = (running >= precision) & last_of_tie & (np.arange(1, conf.size + 1) >= min_count)
    if not ok_cut.any():
        return None
    best = int(np.nonzero(ok_cut)[0].max())
    return float(sorted_conf[best])


def percentile(values: ArrayLike, q: float) -> float | None:
    v = _floats(values)
    return float(np.percentile(v, q)) if v.size else None


# --------------------------------------------------------------------------- paired comparison

PairedMetric = Callable[[IntArray, IntArray], float]


def bootstrap_delta(
    metric: PairedMetric,
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """metric(B) - metric(A) with a percentile bootstrap CI, resampling tickets (paired)."""
    t, a, b = _ints(y_true), _ints(pred_a), _ints(pred_b)
    estimate = metric(t, b) - metric(t, a)
    if t.size == 0:
        return Interval(estimate=estimate, low=estimate, high=estimate)
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_resamples, dtype=np.float64)
    for i in range(n_resamples):
        idx = rng.integers(0, t.size, t.size)
        deltas[i] = metric(t[idx], b[idx]) - metric(t[idx], a[idx])
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(deltas, [alpha, 1.0 - alpha])
    return Interval(estimate=estimate, low=float(low), high=float(high))


def mcnemar(correct_a: ArrayLike, correct_b: ArrayLike, exact_below: int = 25) -> McNemar:
    """McNemar's test on paired correctness: exact two-sided binomial when the discordant
    count is small (the chi-square approximation is poor there), else chi-square with
    continuity correction, 1 degree of freedom."""
    a = np.asarray(correct_a, dtype=bool)
    b_ok = np.asarray(correct_b, dtype=bool)
    b = int((a & ~b_ok).sum())
    c = int((~a & b_ok).sum())
    n = b + c
    if n == 0:
        return McNemar(b=b, c=c, statistic=None, p_value=1.0, method="exact")
    if n < exact_below:
        k = min(b, c)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
        return McNemar(b=b, c=c, statistic=None, p_value=min(1.0, 2.0 * tail), method="exact")
    stat = (abs(b - c) - 1.0) ** 2 / n
    # chi-square survival with 1 dof: P(X > x) = erfc(sqrt(x / 2))
    return McNemar(
        b=b, c=c, statistic=stat, p_value=math.erfc(math.sqrt(stat / 2.0)), method="chi2-cc"
    )


def accuracy_of(y_true: IntArray, y_pred: IntArray) -> float:
    return float((y_true == y_pred).mean()) if y_true.size else 0.0

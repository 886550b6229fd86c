"""Metrics of confidence: reliability and ECE, Brier, NLL, AUROC, coverage and the threshold
that reaches a target precision (plain numpy; see ``metrics`` for the conventions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel

from gateway.evals.arrays import floats, ints


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


# --------------------------------------------------------------------------- calibration


def reliability_bins(
    confidence: ArrayLike, correct: ArrayLike, n_bins: int = 15
) -> list[ReliabilityBin]:
    """Equal-width confidence bins; the last bin includes 1.0."""
    conf, ok = floats(confidence), floats(correct)
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
    conf = floats(confidence)
    if conf.size == 0:
        return 0.0
    total = 0.0
    for b in reliability_bins(conf, correct, n_bins):
        if b.count and b.confidence is not None and b.accuracy is not None:
            total += b.count * abs(b.accuracy - b.confidence)
    return total / conf.size


def ece_floor(
    confidence: ArrayLike, n_bins: int = 15, *, draws: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """The ECE a perfectly calibrated scorer with these confidences would show on this many
    tickets (each right with probability its confidence): median and 95th percentile of
    ``draws`` simulations. ECE is biased upward on few tickets; a measured ECE under the 95th
    percentile cannot be told apart from perfect calibration."""
    conf = floats(confidence)
    if conf.size == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    simulated = [
        expected_calibration_error(conf, rng.random(conf.size) < conf, n_bins) for _ in range(draws)
    ]
    return float(np.median(simulated)), float(np.quantile(simulated, 0.95))


def brier_score(probs: ArrayLike, y_true: ArrayLike) -> float:
    """Multi-class Brier: mean over tickets of sum_k (p_k - [k = gold])^2 (range 0..2).

    A gold index of -1 (out of scope: no rubric label is right) has an all-zero target.
    """
    p, t = floats(probs), ints(y_true)
    if p.shape[0] == 0:
        return 0.0
    target = np.zeros_like(p)
    rows = np.nonzero(t >= 0)[0]
    target[rows, t[rows]] = 1.0
    return float(((p - target) ** 2).sum(axis=1).mean())


def binary_brier(prob: ArrayLike, outcome: ArrayLike) -> float:
    p, y = floats(prob), floats(outcome)
    return float(((p - y) ** 2).mean()) if p.size else 0.0


def nll(log_probs: ArrayLike, y_true: ArrayLike) -> float:
    """Mean negative log-likelihood of the gold labels under row-wise log-probabilities."""
    lp, t = floats(log_probs), ints(y_true)
    if t.size == 0:
        return 0.0
    return float(-lp[np.arange(t.size), t].mean())


# --------------------------------------------------------------------------- ranking, coverage


def auroc(scores: ArrayLike, positive: ArrayLike) -> float | None:
    """Area under the ROC curve (Mann-Whitney U, ties count half). None if one class is empty."""
    s = floats(scores)
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


def coverage_curve(
    confidence: ArrayLike, correct: ArrayLike, thresholds: Sequence[float] | None = None
) -> list[CoveragePoint]:
    """Accuracy of the tickets kept (confidence ≥ t) against the share kept, per threshold."""
    conf, ok = floats(confidence), floats(correct)
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


def wilson_lower(successes: ArrayLike, n: ArrayLike, z: float) -> NDArray[np.float64]:
    """The Wilson score interval's lower end for ``successes`` of ``n`` (elementwise; ``z`` the
    normal quantile: 1.645 for a one-sided 95% bound). ``z`` = 0 gives the plain proportion."""
    k, m = floats(successes), floats(n)
    p = k / m
    z2 = z * z
    centre = p + z2 / (2 * m)
    spread = z * np.sqrt(p * (1 - p) / m + z2 / (4 * m * m))
    out: NDArray[np.float64] = (centre - spread) / (1 + z2 / m)
    return out


def threshold_for_precision(
    confidence: ArrayLike,
    correct: ArrayLike,
    precision: float,
    min_count: int = 1,
    *,
    z: float = 0.0,
) -> float | None:
    """The lowest threshold t such that the tickets with confidence ≥ t are right at least
    ``precision`` of the time (and there are ``min_count`` of them); None when none is. With
    ``z`` > 0 the Wilson lower bound of their precision must reach it, not the point estimate:
    a threshold that holds on the next tickets too, not only on these."""
    conf, ok = floats(confidence), floats(correct)
    if conf.size == 0:
        return None
    order = np.argsort(-conf, kind="mergesort")
    sorted_conf = conf[order]
    counts = np.arange(1, conf.size + 1)
    running = wilson_lower(np.cumsum(ok[order]), counts, z)
    # only cut between distinct confidences: a threshold keeps every tie
    last_of_tie = np.r_[sorted_conf[1:] != sorted_conf[:-1], True]
    ok_cut = (running >= precision) & last_of_tie & (counts >= min_count)
    if not ok_cut.any():
        return None
    best = int(np.nonzero(ok_cut)[0].max())
    return float(sorted_conf[best])

"""Fitting a calibration offline (``rubric calibrate``): the temperature, by gold-label NLL or by
top-label confidence against correctness, and per-label auto-route bars for a target precision.

Temperature scaling (Guo et al., 2017) on logits recovered as log(scores); what the gateway
applies, and the file it reads, are in ``gateway.pipeline.calibration``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gateway.evals.arrays import FloatArray
from gateway.evals.confidence import threshold_for_precision
from gateway.pipeline.calibration import apply_temperature


def log_softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def set_nll(logits: FloatArray, gold: NDArray[np.bool_], temperature: float) -> float:
    """Mean -log P(gold set) under softmax(logits / t); one gold label is the usual NLL."""
    lp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    masked = np.where(gold, lp, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    in_gold = top[:, 0] + np.log(np.exp(masked - top).sum(axis=1))
    return float(-in_gold.mean())


def fit_temperature(logits: ArrayLike, y_true: ArrayLike) -> float:
    """The temperature minimising the mean NLL of the gold label(s).

    ``y_true``: gold indices (n,) or a boolean gold matrix (n, k) for multi-label tickets, where
    the likelihood is that of the top label falling in the gold set. Golden-section search over
    log t: the single-label NLL is convex in 1/t, and the set version is unimodal in practice;
    unlike Newton it cannot diverge when logits are nearly flat.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true)
    if y.ndim == 1:
        gold = np.zeros(z.shape, dtype=bool)
        gold[np.arange(y.size), y.astype(np.int64)] = True
    else:
        gold = y.astype(bool)
    keep = gold.any(axis=1)
    z, gold = z[keep], gold[keep]
    if z.shape[0] == 0:
        return 1.0
    z = z - z.max(axis=1, keepdims=True)
    # bounds: perfectly separated data pushes t to 0; no real scorer needs more than 100x
    lo, hi = math.log(1e-2), math.log(1e2)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = set_nll(z, gold, math.exp(a)), set_nll(z, gold, math.exp(b))
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = set_nll(z, gold, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = set_nll(z, gold, math.exp(b))
    return math.exp((lo + hi) / 2.0)


def confidence_loss(logits: FloatArray, correct: NDArray[np.bool_], temperature: float) -> float:
    """Binary cross-entropy of the top-label confidence against whether the top label is right."""
    conf = np.clip(apply_temperature(logits, temperature).max(axis=1), 1e-12, 1 - 1e-12)
    return float(-np.where(correct, np.log(conf), np.log1p(-conf)).mean())


def fit_temperature_to_confidence(logits: ArrayLike, correct: ArrayLike) -> float:
    """The temperature that makes the top-label confidence match how often the top label is
    right (what routing thresholds act on, and what ECE measures).

    Unlike the NLL fit it needs no gold label per row, so tickets no rubric label fits (always
    wrong) take part, and multi-label tickets count as right when the top label is one of
    theirs. The loss is not guaranteed convex in t: a coarse grid finds the basin, then
    golden-section search refines it.
    """
    z = np.asarray(logits, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if z.shape[0] == 0 or ok.all() or not ok.any():
        return 1.0
    z = z - z.max(axis=1, keepdims=True)
    grid = np.linspace(math.log(1e-2), math.log(1e2), 61)
    losses = [confidence_loss(z, ok, math.exp(g)) for g in grid]
    best = int(np.argmin(losses))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if confidence_loss(z, ok, math.exp(a)) <= confidence_loss(z, ok, math.exp(b)):
            hi = b
        else:
            lo = a
    return math.exp((lo + hi) / 2.0)


def label_thresholds(
    confidence: ArrayLike,
    predicted: Sequence[str],
    correct: ArrayLike,
    precision: float,
    min_count: int = 5,
) -> dict[str, float]:
    """Per predicted label, the lowest confidence at which that label's predictions reach the
    target precision. Labels with fewer than ``min_count`` predictions are left out (too few
    to say); a label that never reaches the target gets 1.0 (only certain predictions pass)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    pred = np.asarray(predicted, dtype=object)
    out: dict[str, float] = {}
    for label in sorted(set(predicted)):
        mask = pred == label
        if int(mask.sum()) < min_count:
            continue
        found = threshold_for_precision(conf[mask], ok[mask], precision, min_count=min_count)
        out[label] = round(found, 4) if found is not None else 1.0
    return out

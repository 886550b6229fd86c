"""Paired comparison of two runs on the same tickets: bootstrap CIs of a metric's delta and
McNemar's test on correctness (plain numpy)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel

from gateway.evals.arrays import IntArray, ints


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
    t, a, b = ints(y_true), ints(pred_a), ints(pred_b)
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

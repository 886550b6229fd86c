"""Pure functions from per-label scores to a distribution and its summary statistics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

Vector = NDArray[np.float64]


def softmax(logits: ArrayLike) -> Vector:
    x = np.asarray(logits, dtype=np.float64)
    if x.size == 0:
        return x
    shifted = np.exp(x - x.max())
    result: Vector = shifted / shifted.sum()
    return result


def logistic(x: ArrayLike) -> Vector:
    arr = np.asarray(x, dtype=np.float64)
    # 0.5 * (1 + tanh(x/2)) is the logistic without overflow for large |x|
    result: Vector = 0.5 * (1.0 + np.tanh(0.5 * arr))
    return result


MIN_PROBABILITY = 1e-6  # a label never gets exactly 0: later steps take logs and ratios


def with_floor(
    found: Mapping[str, float], names: Sequence[str], shown: Sequence[float]
) -> dict[str, float]:
    """A distribution over ``names`` from the probabilities a provider's top tokens gave some
    of them (``found``): a label no shown token reached is at most as likely as the least
    likely token ``shown`` and shares what mass they leave, so it gets that floor, not zero
    (nor less than ``MIN_PROBABILITY``); then normalised."""
    missing = [name for name in names if name not in found]
    probs = dict(found)
    if missing:
        leftover = max(1.0 - sum(shown), 0.0)
        floor = min(min(shown), leftover / len(missing))
        for name in missing:
            probs[name] = floor
    return normalise({name: max(probs[name], MIN_PROBABILITY) for name in names})


def normalise(raw: Mapping[str, float]) -> dict[str, float]:
    """Scale non-negative scores to sum to 1; all-zero (nothing fits) becomes uniform."""
    if not raw:
        return {}
    values = [max(0.0, float(v)) for v in raw.values()]
    total = sum(values)
    if total <= 0.0 or not math.isfinite(total):
        return {k: 1.0 / len(raw) for k in raw}
    return {k: v / total for k, v in zip(raw, values, strict=True)}


def top_label(scores: Mapping[str, float]) -> str:
    """Highest score; ties go to the label listed first (rubric order), deterministically."""
    return max(scores, key=lambda k: scores[k])


def margin(scores: Mapping[str, float]) -> float:
    """Top score minus the runner-up: how clear the winner is."""
    ordered = sorted(scores.values(), reverse=True)
    if len(ordered) < 2:
        return ordered[0] if ordered else 0.0
    return ordered[0] - ordered[1]


def entropy(scores: Mapping[str, float]) -> float:
    """Shannon entropy in nats, normalised to [0, 1] by log(#labels)."""
    n = len(scores)
    if n < 2:
        return 0.0
    h = -sum(p * math.log(p) for p in scores.values() if p > 0)
    return h / math.log(n)

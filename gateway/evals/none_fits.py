"""Fitting a rubric's none_fits floor (``rubric calibrate``): the best raw score under which a
ticket fits no label, chosen from in-scope tickets alone.

The deployment's floor (GATEWAY_NONE_FITS_FLOOR, 0.30) is one number for every rubric, but how
high a rubric's right answers score depends on the rubric: on CLINC150 it marks 20% of
out-of-scope queries (0.3% of in-scope), on BANKING77 almost none. A floor at a quantile of the
in-scope best raw score instead flags a known share of in-scope tickets (the false-flag rate a
team chooses), and needs no out-of-scope examples; where the data has some, ``none_fits_rates``
says what the floor catches. The floor is on the fit score (``gateway.pipeline.fit_score``),
whose per-label traffic statistics are fitted here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel

from gateway.evals.predictions import Prediction
from gateway.pipeline import LabelTraffic, lifted_best, raw_logits

# Under this many in-scope tickets a 5% quantile rests on one or two tickets: keep the default.
MIN_IN_SCOPE = 20
# how much a label's lift over its traffic counts in the fit score; picked on CLINC150 val and
# BANKING77 train (unknown-intent draws other than the bench's), not on test splits
DEFAULT_LIFT = 0.5


def fit_none_fits_floor(
    best_raw: ArrayLike, rate: float, min_count: int = MIN_IN_SCOPE
) -> float | None:
    """The floor under which at most ``rate`` of these in-scope tickets' best raw scores fall
    (the ``rate`` quantile, taken from below so the share is never exceeded), rounded down to
    6 decimals. None with fewer than ``min_count`` tickets."""
    if not 0 < rate < 1:
        raise ValueError(f"none_fits rate must be in (0, 1), got {rate}")
    best = np.sort(np.asarray(best_raw, dtype=np.float64))
    if best.size < min_count:
        return None
    # tickets strictly under best[k] are at most k of them, k = floor(rate * n)
    floor = float(best[math.floor(rate * best.size)])
    return math.floor(floor * 1e6) / 1e6


def fit_label_traffic(
    raw: ArrayLike, labels: Sequence[str], lift: float, min_count: int = MIN_IN_SCOPE
) -> dict[str, LabelTraffic]:
    """Each label's mean logit(raw) over these tickets (every ticket, in scope or not: traffic
    needs no gold label) and its weight, ``lift`` x median spread of the labels ÷ its own
    spread, for ``gateway.pipeline.lifted_best``. Empty with ``lift`` 0 or too few tickets."""
    u = raw_logits(raw)
    if lift == 0 or u.ndim != 2 or u.shape[0] < min_count:
        return {}
    spread = u.std(axis=0)
    typical = float(np.median(spread))
    if typical <= 0:
        return {}
    # a label whose score hardly moves would otherwise get an unbounded weight
    weight = lift * typical / np.maximum(spread, typical / 10)
    return {
        name: LabelTraffic(mean=round(float(m), 6), weight=round(float(w), 6))
        for name, m, w in zip(labels, u.mean(axis=0), weight, strict=True)
    }


def none_fits_signals(
    preds: Sequence[Prediction], traffic: Mapping[str, LabelTraffic] | None = None
) -> tuple[list[float], list[bool]]:
    """Each answered ticket's none_fits signal (the fit score with ``traffic``, else the best
    raw score) and whether some rubric label fits it."""
    answered = [p for p in preds if p.error is None and p.raw]
    signal = [lifted_best(p.raw, traffic) if traffic else max(p.raw.values()) for p in answered]
    return signal, [p.in_scope for p in answered]


class NoneFitsRates(BaseModel):
    """Shares of tickets whose none_fits signal is under a floor."""

    floor: float
    in_scope: float | None = None
    out_of_scope: float | None = None


def none_fits_rates(
    preds: Sequence[Prediction],
    floor: float,
    traffic: Mapping[str, LabelTraffic] | None = None,
) -> NoneFitsRates:
    """What a floor flags: the share of in-scope and of out-of-scope tickets under it (None
    for a group the data does not have)."""
    signal, scoped = (np.asarray(a) for a in none_fits_signals(preds, traffic))
    under = signal < floor if signal.size else np.zeros(0, dtype=bool)
    inside = scoped.astype(bool)
    return NoneFitsRates(
        floor=floor,
        in_scope=float(under[inside].mean()) if inside.any() else None,
        out_of_scope=float(under[~inside].mean()) if (~inside).any() else None,
    )

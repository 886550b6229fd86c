"""The none_fits fit score: a ticket's best raw score, lifted per label by how far it sits over
that label's usual score on calibration traffic.

A label that most tickets resemble somewhat (a hub: "general question", "account") gives
out-of-scope tickets high raw scores too, so the best raw score alone ranks them in scope. In
logit space, each label's score is lifted by w * (logit(raw) - mean), w = lift x (median spread
of the labels / this label's spread): a ticket must stand out from the label's traffic, not only
be close to it. On the embedded model this raised the out-of-scope AUROC on CLINC150 test from
0.922 to 0.925 and on unknown BANKING77 intents from 0.756 to 0.775 (bench/out_of_scope.py);
``rubric calibrate`` fits the means and weights with the floor.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from gateway.scoring import logistic

# raw scores of 0 or 1 (4 decimals on the wire) are clipped before their logit is taken
_RAW_EPS = 1e-6


class LabelTraffic(BaseModel):
    """How one label's raw score runs over the calibration tickets, for the fit score."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean: float = Field(description="mean of logit(raw) over the calibration tickets")
    weight: float = Field(ge=0, description="lift x median spread of the labels / its own")


def raw_logits(values: ArrayLike) -> NDArray[np.float64]:
    """logit of raw scores, clipped off 0 and 1 (the fit score's space; ``rubric calibrate``
    fits the label statistics in it too)."""
    p = np.clip(np.asarray(values, dtype=np.float64), _RAW_EPS, 1 - _RAW_EPS)
    out: NDArray[np.float64] = np.log(p) - np.log1p(-p)
    return out


def lifted_best(raw: Mapping[str, float], traffic: Mapping[str, LabelTraffic]) -> float:
    """The fit score, in raw-score units: the best over labels of
    (1 + w) * logit(raw) - w * mean, back through the logistic. A label without traffic
    statistics is not lifted (its raw score counts as it is)."""
    if not raw:
        return 0.0
    u = raw_logits(list(raw.values()))
    none = LabelTraffic(mean=0.0, weight=0.0)
    stats = [traffic.get(name, none) for name in raw]
    w = np.array([t.weight for t in stats])
    mean = np.array([t.mean for t in stats])
    return float(logistic(((1 + w) * u - w * mean).max()))

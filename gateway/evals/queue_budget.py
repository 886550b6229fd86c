"""Queue sizing: the review threshold that makes the daily review queue about N tickets.

A ticket is asked about when its top score is at or above ``review`` and under ``auto_route``
(decision ``review``). At the observed volume, lowering ``review`` by one ticket's confidence adds
that ticket to the band, so the threshold for a budget of N a day is the confidence of the
(N × days)-th most confident ticket under ``auto_route``. The workflow we follow says a reviewer
clears about 20 a day.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field


class QueueBudget(BaseModel):
    budget: float = Field(description="tickets a day the queue should hold")
    days: float = Field(description="span of the observed traffic")
    tickets: int = Field(description="tickets observed")
    per_day: float
    auto_route: float
    review: float = Field(description="the recommended review threshold")
    expected_per_day: float = Field(description="review-band tickets a day at that threshold")
    current_review: float
    current_per_day: float
    exhausted: bool = Field(
        description="even review = 0 gives fewer than the budget: every unsure ticket is asked"
    )


def _band_per_day(confidences: Sequence[float], low: float, high: float, days: float) -> float:
    return sum(1 for c in confidences if low <= c < high) / days


def review_for_budget(
    confidences: Sequence[float],
    *,
    days: float,
    auto_route: float,
    current_review: float,
    budget: float,
) -> QueueBudget:
    if days <= 0:
        raise ValueError("the observed span must be positive")
    under = sorted((c for c in confidences if c < auto_route), reverse=True)
    wanted = max(1, round(budget * days))
    exhausted = len(under) < wanted
    review = 0.0 if exhausted else under[wanted - 1]
    return QueueBudget(
        budget=budget,
        days=days,
        tickets=len(confidences),
        per_day=len(confidences) / days,
        auto_route=auto_route,
        review=round(review, 4),
        expected_per_day=_band_per_day(confidences, review, auto_route, days),
        current_review=current_review,
        current_per_day=_band_per_day(confidences, current_review, auto_route, days),
        exhausted=exhausted,
    )

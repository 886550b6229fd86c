"""What the rubrics list and the overview show of each set: its drift and its daily traffic,
read from the labelled-data store (no ticket text)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from gateway.config import Settings
from gateway.learning.drift import DriftOptions, DriftReport, drift_report
from gateway.rubrics import RubricSet
from gateway.store import DriftPoint, Store

TOP_SERIES = 6


class Traffic(BaseModel):
    """One rubric set's primary axis, day by day."""

    rubric: str
    axis: str
    days: list[str]
    series: list[str]  # the most frequent labels, then (other)
    shares: list[dict[str, float]]
    auto_route: list[float | None]  # share at or above the auto-route threshold
    n: int
    queue: int
    drift: DriftReport | None


def _points(store: Store, rubric: RubricSet, settings: Settings) -> list[DriftPoint]:
    since = datetime.now(UTC) - timedelta(days=settings.store.drift_days)
    return store.drift_points(rubric=rubric.name, axis=rubric.primary_axis, since=since)


def drift_of(points: list[DriftPoint], rubric: RubricSet, settings: Settings) -> DriftReport:
    now = datetime.now(UTC)
    options = DriftOptions(
        window=timedelta(hours=settings.store.drift_window_h),
        since=now - timedelta(days=settings.store.drift_days),
        as_of=now,
    )
    axis = rubric.primary_axis
    return drift_report(
        points, rubric=rubric.name, axis=axis, labels=rubric.axes[axis].names, options=options
    )


def traffic(store: Store, rubric: RubricSet, settings: Settings) -> Traffic:
    """Daily label shares, auto-route share (top probability ≥ the set's auto-route
    threshold: the decision before rules) and drift of the primary axis."""
    points = _points(store, rubric, settings)
    axis = rubric.primary_axis
    auto = rubric.thresholds_for(axis).auto_route
    by_day: dict[str, list[DriftPoint]] = {}
    for p in points:
        by_day.setdefault(p.at.astimezone(UTC).date().isoformat(), []).append(p)
    days = sorted(by_day)
    totals = Counter(p.top_label for p in points)
    top = [name for name, _ in totals.most_common(TOP_SERIES)]
    series = [*top, "(other)"] if len(totals) > len(top) else top
    shares = []
    auto_route: list[float | None] = []
    for day in days:
        group = by_day[day]
        counts = Counter(p.top_label if p.top_label in top else "(other)" for p in group)
        shares.append({name: counts[name] / len(group) for name in series})
        auto_route.append(sum(p.confidence >= auto for p in group) / len(group))
    return Traffic(
        rubric=rubric.name,
        axis=axis,
        days=days,
        series=series,
        shares=shares,
        auto_route=auto_route,
        n=len(points),
        queue=store.queue_size(rubric=rubric.name),
        drift=drift_of(points, rubric, settings) if points else None,
    )

"""``rubric thresholds --queue-budget N``: the review threshold for a daily review budget, from
the traffic the store has seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer

from gateway.evals.cli_common import EXIT_USAGE, err, out
from gateway.evals.queue_budget import review_for_budget


def queue_budget(rubric: str | None, budget: float, days: float) -> None:
    from gateway.config import get_settings
    from gateway.rubrics import RubricStore
    from gateway.store import open_store

    settings = get_settings()
    name = rubric or settings.rubrics.default
    served = RubricStore(settings.rubrics.dir).get(name)
    axis = served.primary_axis
    now = datetime.now(UTC)
    store = open_store(settings.store.url)
    try:
        points = store.drift_points(rubric=name, axis=axis, since=now - timedelta(days=days))
    finally:
        store.close()
    if not points:
        err.print(f"no classified tickets of {name!r} in the last {days:g} days in the store")
        raise typer.Exit(EXIT_USAGE)
    # a store younger than the window: the volume is per day of traffic actually seen
    span = max((now - points[0].at).total_seconds() / 86400, 1 / 24)
    thresholds = served.thresholds_for(axis)
    q = review_for_budget(
        [p.confidence for p in points],
        days=min(days, span),
        auto_route=thresholds.auto_route,
        current_review=thresholds.review,
        budget=budget,
    )
    out.print(
        f"{name}.{axis}: {q.tickets} tickets over {q.days:.1f} days ({q.per_day:.0f}/day); "
        f"review band now {q.current_per_day:.1f}/day at review {q.current_review:.2f}",
        highlight=False,
    )
    note = " (every unsure ticket: the budget exceeds the traffic)" if q.exhausted else ""
    out.print(
        f"for ~{budget:g}/day: thresholds: {{auto_route: {q.auto_route:.2f}, review: "
        f"{q.review:.3f}}} → {q.expected_per_day:.1f}/day{note}",
        highlight=False,
    )

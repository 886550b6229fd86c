"""Printing what ``rubric calibrate`` and ``rubric thresholds`` found."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from gateway.evals.calibrate import CalibrationOutcome
from gateway.evals.cli_common import out
from gateway.evals.loading import LoadedSuite
from gateway.evals.thresholds import ThresholdAdvice


def _share(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def print_none_fits(o: CalibrationOutcome, multi_fit: float) -> None:
    """The none_fits floor fitted, and what it flags beside the deployment's floor."""
    cal, report = o.calibration, o.calibration.report
    if cal.none_fits_floor is None:
        out.print("none_fits floor: the deployment's (none fitted)", highlight=False)
        return
    signal = "fit score" if cal.none_fits_labels else "best raw score"
    line = (
        f"none_fits floor {cal.none_fits_floor:.4f} on the {signal} "
        f"({cal.none_fits_rate:.0%} of in-scope fit tickets under it)"
    )
    if o.none_fits_fit is not None:
        line += (
            f"; fit split flags {_share(o.none_fits_fit.in_scope)} of in-scope, "
            f"{_share(o.none_fits_fit.out_of_scope)} of out-of-scope"
        )
    out.print(line, highlight=False)
    if report is not None:
        out.print(
            "held-out none_fits, deployment floor → fitted: in-scope "
            f"{_share(report.none_fits_in_scope_before)} → "
            f"{_share(report.none_fits_in_scope_after)}, out-of-scope "
            f"{_share(report.none_fits_oos_before)} → {_share(report.none_fits_oos_after)}",
            highlight=False,
        )
    if cal.none_fits_floor > multi_fit and not cal.none_fits_labels:
        out.print(
            f"[yellow]the floor is over the multi_fit floor {multi_fit:.2f}[/yellow]: served "
            "at multi_fit (a ticket cannot be both none_fits and multi_fit)"
        )


def print_calibrations(
    loaded: LoadedSuite, outcomes: Sequence[CalibrationOutcome], multi_fit: float = 0.95
) -> None:
    for o in outcomes:
        cal = o.calibration
        table = Table(title=f"{loaded.suite.name} {o.run}: temperature {cal.temperature:.4f}")
        for col in ("split", "n", "NLL", "ECE", "ECE incl. OOS", "Brier", "accuracy"):
            table.add_column(col, justify="right" if col != "split" else "left")
        for name, s in (
            ("fit, before", o.fit_before),
            ("fit, after", o.fit_after),
            ("held-out, before", o.heldout_before),
            ("held-out, after", o.heldout_after),
        ):
            table.add_row(
                name,
                str(s.n),
                f"{s.nll:.3f}",
                f"{s.ece:.3f}",
                "–" if s.ece_all is None else f"{s.ece_all:.3f}",
                f"{s.brier:.3f}",
                f"{s.accuracy:.3f}",
            )
        out.print(table)
        if cal.label_thresholds:
            out.print(
                f"per-label auto-route bars for precision {cal.target_precision}: "
                f"{len(cal.label_thresholds)} labels",
                highlight=False,
            )
        print_none_fits(o, multi_fit)
        out.print(
            f"objective {cal.objective}; "
            + (f"written to {o.written_to} ({cal.id})" if o.written_to else "dry run"),
            highlight=False,
        )


def print_advice(advice: Sequence[ThresholdAdvice]) -> None:
    for a in advice:
        table = Table(
            title=f"{a.run} on {a.split} ({a.n} tickets, calibration {a.calibration or 'none'})"
        )
        for col in ("threshold", "would auto-route", "accuracy of those"):
            table.add_column(col, justify="right")
        for row in a.curve:
            mark = (
                " ← auto_route"
                if row.threshold == a.auto_route
                else " ← review"
                if row.threshold == a.review
                else ""
            )
            table.add_row(
                f"{row.threshold:.3f}{mark}",
                f"{row.coverage:.1%}",
                "–" if row.accuracy is None else f"{row.accuracy:.3f}",
            )
        out.print(table)
        if a.auto_route is None:
            out.print(
                f"[yellow]no threshold reaches precision {a.precision}[/yellow]: nothing should "
                "be auto-routed with this scorer and rubric"
            )
        auto = a.auto_route if a.auto_route is not None else 1.0
        review = a.review if a.review is not None else auto
        out.print(
            f"recommended (current {a.current.auto_route:.2f} / {a.current.review:.2f}): "
            f"auto-routes {a.auto_route_coverage:.1%}, reviews "
            f"{max(0.0, a.review_coverage - a.auto_route_coverage):.1%}",
            highlight=False,
        )
        out.print(f"thresholds: {{auto_route: {auto:.2f}, review: {review:.2f}}}", highlight=False)

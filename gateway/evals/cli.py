"""``rubric eval | calibrate | thresholds | compare``: the eval harness on the command line.

``gateway/cli.py`` calls ``register(app)``; nothing here runs at import time except building
the consoles, so ``rubric --help`` stays fast (matplotlib and the model load on demand).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gateway.errors import GatewayError
from gateway.evals.calibrate import calibrate_suite
from gateway.evals.cli_common import (
    DEFAULT_REPORTS,
    EXIT_GATE,
    EXIT_USAGE,
    DataDir,
    NoCache,
    RequireData,
    Sample,
    Seed,
    err,
    load_or_exit,
    out,
    parse_gates,
    print_comparison,
    print_gates,
    progress_bar,
    skipped,
)
from gateway.evals.comparison import compare_runs
from gateway.evals.evaluate import evaluate_suite
from gateway.evals.gates import check_baseline
from gateway.evals.predictions import read_predictions
from gateway.evals.queue_budget import review_for_budget
from gateway.evals.report import report_dir, write_report
from gateway.evals.report_text import runs_table
from gateway.evals.runner import ClassifierFactory, EvalOptions, real_factory
from gateway.evals.suite import DataMissingError
from gateway.evals.suite_report import read_report
from gateway.evals.thresholds import recommend_thresholds

# The classifier the commands run against; tests swap in a fake (a seam, not configuration).
factory: ClassifierFactory = real_factory


def eval_command(
    suite: Annotated[Path, typer.Argument(help="suite YAML, e.g. evals/suites/banking77.yaml")],
    data_dir: DataDir = None,
    sample: Sample = None,
    seed: Seed = None,
    split: Annotated[str | None, typer.Option(help="dataset split (default: suite's)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="reports root")] = DEFAULT_REPORTS,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE: exit 1 when a run's metric is below (repeatable)"),
    ] = None,
    fail_over: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE: exit 1 when a run's metric is above, e.g. ece=0.05"),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="a previous report dir or metrics.json to compare with")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="with --baseline: allowed drop before failing")
    ] = 0.01,
    no_cache: NoCache = False,
    no_plots: Annotated[bool, typer.Option("--no-plots")] = False,
    no_calibration: Annotated[
        bool, typer.Option("--no-calibration", help="do not add offline-calibrated runs")
    ] = False,
    show_text: Annotated[
        bool, typer.Option(help="ticket text in flips, where the suite's licence allows")
    ] = False,
    batch_size: Annotated[int | None, typer.Option(help="tickets per classify call")] = None,
    concurrency: Annotated[int | None, typer.Option(help="classify calls in flight")] = None,
    require_data: RequireData = False,
) -> None:
    """Run a suite's matrix; print a side-by-side table and write evals/reports/<suite>-<time>/."""
    options = EvalOptions(
        sample=sample,
        seed=seed,
        split=split,
        cache=not no_cache,
        batch_size=batch_size,
        concurrency=concurrency,
        apply_calibration=not no_calibration,
        fail_under=parse_gates(fail_under),
        fail_over=parse_gates(fail_over),
        baseline=baseline,
        tolerance=tolerance,
        show_text=show_text,
    )
    loaded = load_or_exit(suite, data_dir)
    try:
        report, results = evaluate_suite(loaded, factory, options, progress_bar)
    except DataMissingError as exc:
        raise skipped(exc, require_data) from None
    except (GatewayError, OSError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    files = write_report(report, results, report_dir(out_dir, loaded.suite.name), not no_plots)
    out.print(runs_table(report))
    for c in report.comparisons:
        print_comparison(c)
    print_gates(report)
    out.print(f"report: {files.markdown}", highlight=False)
    if not report.passed:
        raise typer.Exit(EXIT_GATE)


def calibrate_command(
    suite: Annotated[Path, typer.Argument(help="suite YAML with a 'calibration:' section")],
    data_dir: DataDir = None,
    objective: Annotated[
        str, typer.Option(help="confidence (top-label vs correctness) or nll (gold likelihood)")
    ] = "confidence",
    label_thresholds: Annotated[
        bool, typer.Option(help="also fit each label's auto-route bar for --precision")
    ] = False,
    precision: Annotated[
        float | None, typer.Option(help="target precision for per-label thresholds")
    ] = None,
    sample: Sample = None,
    seed: Seed = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="fit and report, write nothing")
    ] = False,
    no_cache: NoCache = False,
    require_data: RequireData = False,
) -> None:
    """Fit a temperature (and per-label thresholds) on the calibration split; write it beside
    the rubric as <rubric>.calibration.json; report NLL/ECE/Brier before and after on the
    held-out split."""
    if objective not in ("confidence", "nll"):
        err.print(f"[red]error[/red] --objective must be confidence or nll, not {objective!r}")
        raise typer.Exit(EXIT_USAGE)
    loaded = load_or_exit(suite, data_dir)
    options = EvalOptions(sample=sample, seed=seed, cache=not no_cache)
    try:
        outcomes = calibrate_suite(
            loaded,
            factory,
            options,
            precision=precision,
            objective="nll" if objective == "nll" else "confidence",
            per_label=label_thresholds,
            write=not dry_run,
            progress=progress_bar,
        )
    except DataMissingError as exc:
        raise skipped(exc, require_data) from None
    except (GatewayError, ValueError, RuntimeError) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
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
        out.print(
            f"objective {cal.objective}; "
            + (f"written to {o.written_to} ({cal.id})" if o.written_to else "dry run"),
            highlight=False,
        )


def thresholds_command(
    suite: Annotated[Path | None, typer.Argument(help="suite YAML")] = None,
    precision: Annotated[
        float, typer.Option(help="auto-routed tickets must be right this often")
    ] = 0.95,
    review_precision: Annotated[
        float, typer.Option(help="tickets at or above review are right this often")
    ] = 0.80,
    data_dir: DataDir = None,
    split: Annotated[
        str | None, typer.Option(help="default: the calibration split, else the suite's")
    ] = None,
    sample: Sample = None,
    seed: Seed = None,
    no_cache: NoCache = False,
    require_data: RequireData = False,
    queue_budget: Annotated[
        float | None,
        typer.Option(help="size the review band to about this many tickets a day (the store)"),
    ] = None,
    rubric: Annotated[
        str | None, typer.Option(help="with --queue-budget: the served rubric set")
    ] = None,
    days: Annotated[float, typer.Option(help="with --queue-budget: traffic to look at")] = 7.0,
) -> None:
    """Recommend auto_route / review thresholds from labelled data; with --queue-budget N, the
    review threshold that makes the daily review queue about N tickets at the observed volume."""
    if queue_budget is not None:
        _queue_budget(rubric, queue_budget, days)
        if suite is None:
            return
    if suite is None:
        err.print("[red]error[/red] give a suite, or --queue-budget N --rubric NAME")
        raise typer.Exit(EXIT_USAGE)
    loaded = load_or_exit(suite, data_dir)
    options = EvalOptions(sample=sample, seed=seed, split=split, cache=not no_cache)
    try:
        advice = recommend_thresholds(
            loaded,
            factory,
            options,
            precision=precision,
            review_precision=review_precision,
            progress=progress_bar,
        )
    except DataMissingError as exc:
        raise skipped(exc, require_data) from None
    except (GatewayError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
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


def _queue_budget(rubric: str | None, budget: float, days: float) -> None:
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


def compare_command(
    a: Annotated[Path, typer.Argument(help="report directory (A, the reference)")],
    b: Annotated[Path, typer.Argument(help="report directory (B)")],
    tolerance: Annotated[
        float | None, typer.Option(help="exit 1 when B is worse than A by more than this")
    ] = None,
) -> None:
    """Compare two eval reports of the same suite: deltas with bootstrap CIs, McNemar, flips."""
    try:
        ra, rb = read_report(a), read_report(b)
    except (OSError, ValueError) as exc:
        err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None
    labels = ra.runs[0].confusion.labels if ra.runs and ra.runs[0].confusion else []
    if not labels:
        labels = sorted({k for m in ra.runs for k in m.per_label})
    failed = False
    for ma in ra.runs:
        mb = next((m for m in rb.runs if m.key == ma.key), None)
        pa = read_predictions(a if a.is_dir() else a.parent, ma.run)
        pb = read_predictions(b if b.is_dir() else b.parent, ma.run) if mb else None
        if mb is None or pa is None or pb is None:
            out.print(f"{ma.key}: not in both reports with predictions; skipped")
            continue
        c = compare_runs(pa, pb, labels, ma, mb)
        print_comparison(c.model_copy(update={"a": f"{ra.suite}:{c.a}", "b": f"{rb.suite}:{c.b}"}))
        if tolerance is not None:
            for g in check_baseline([mb], [ma], tolerance):
                failed |= not g.passed
                colour = "green" if g.passed else "red"
                out.print(f"[{colour}]{g.message}[/{colour}]", highlight=False)
    if failed:
        raise typer.Exit(EXIT_GATE)


def register(app: typer.Typer) -> None:
    """Add the eval commands to the ``rubric`` CLI."""
    app.command("eval")(eval_command)
    app.command("calibrate")(calibrate_command)
    app.command("thresholds")(thresholds_command)
    app.command("compare")(compare_command)

"""``rubric eval | calibrate | thresholds | compare``: the eval harness on the command line.

``gateway/cli.py`` calls ``register(app)``; nothing here runs at import time except building
the consoles, so ``rubric --help`` stays fast (matplotlib and the model load on demand).

What each command writes, by default inside the checkout, and the option that moves it:
``eval`` a report directory under ``evals/reports`` (``--out``); ``calibrate`` the calibration
beside the rubric, ``<rubric>.calibration.json``, which ``/classify`` applies (``--out FILE``);
``eval``, ``calibrate`` and ``thresholds`` the result cache, ``GATEWAY_CACHE_DIR`` or
``.cache/results`` (``--cache-dir``; ``--no-cache`` reads and writes none). ``compare`` writes
nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from gateway.errors import GatewayError
from gateway.evals.calibrate import calibrate_suite
from gateway.evals.cli_common import (
    DEFAULT_REPORTS,
    EXIT_GATE,
    EXIT_USAGE,
    REPORTS_ENV,
    AllowMissing,
    CacheDir,
    CalibrationFile,
    DataDir,
    NoCache,
    NoneFitsLift,
    NoneFitsRate,
    RequireData,
    Sample,
    Seed,
    Stratify,
    err,
    load_or_exit,
    missing_data,
    out,
    parse_gates,
    print_comparison,
    print_gates,
    progress_bar,
)
from gateway.evals.cli_compare import compare_command
from gateway.evals.cli_print import print_advice, print_calibrations
from gateway.evals.cli_queue import queue_budget as _queue_budget
from gateway.evals.evaluate import evaluate_suite
from gateway.evals.factory import GatewayFactory, real_factory
from gateway.evals.report import report_dir, write_report
from gateway.evals.report_text import notes, runs_table
from gateway.evals.runner import ClassifierFactory, EvalOptions, decision_floors
from gateway.evals.suite import DataMissingError
from gateway.evals.thresholds import recommend_thresholds

# The classifier the commands run against; tests swap in a fake (a seam, not configuration).
factory: ClassifierFactory = real_factory


def _factory(cache_dir: Path | None) -> ClassifierFactory:
    """The seam, with the result cache moved to ``--cache-dir`` where given."""
    if cache_dir is not None and isinstance(factory, GatewayFactory):
        return dataclasses.replace(factory, cache_dir=cache_dir)
    return factory


def _failed(exc: Exception) -> typer.Exit:
    err.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_USAGE)


def eval_command(
    suite: Annotated[Path, typer.Argument(help="suite YAML, e.g. evals/suites/banking77.yaml")],
    data_dir: DataDir = None,
    sample: Sample = None,
    seed: Seed = None,
    stratify: Stratify = None,
    split: Annotated[str | None, typer.Option(help="dataset split (default: suite's)")] = None,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            envvar=REPORTS_ENV,
            help="reports root: each run writes <suite>-<UTC time>/ under it "
            "(default: evals/reports in the checkout)",
        ),
    ] = DEFAULT_REPORTS,
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
    cache_dir: CacheDir = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="write no PNGs")] = False,
    calibration: CalibrationFile = None,
    no_calibration: Annotated[
        bool,
        typer.Option(
            "--no-calibration",
            help="report uncalibrated runs only (default: each run uncalibrated and, where a "
            "calibration is stored for it, calibrated beside it as <run>+cal)",
        ),
    ] = False,
    show_text: Annotated[
        bool, typer.Option(help="ticket text in flips, where the suite's licence allows")
    ] = False,
    batch_size: Annotated[int | None, typer.Option(help="tickets per classify call")] = None,
    concurrency: Annotated[int | None, typer.Option(help="classify calls in flight")] = None,
    allow_missing: AllowMissing = False,
    require_data: RequireData = False,
) -> None:
    """Run a suite's matrix; print a side-by-side table and write a report directory
    (metrics.json, report.md, predictions-<run>.jsonl, PNGs) under --out."""
    options = EvalOptions(
        sample=sample,
        seed=seed,
        stratify=stratify,
        split=split,
        cache=not no_cache,
        batch_size=batch_size,
        concurrency=concurrency,
        apply_calibration=not no_calibration,
        calibration_file=calibration,
        fail_under=parse_gates(fail_under),
        fail_over=parse_gates(fail_over),
        baseline=baseline,
        tolerance=tolerance,
        show_text=show_text,
    )
    loaded = load_or_exit(suite, data_dir)
    try:
        report, results = evaluate_suite(loaded, _factory(cache_dir), options, progress_bar)
    except DataMissingError as exc:
        raise missing_data(exc, allow_missing and not require_data) from None
    except (GatewayError, OSError, ValueError) as exc:
        raise _failed(exc) from None
    files = write_report(report, results, report_dir(out_dir, loaded.suite.name), not no_plots)
    out.print(runs_table(report))
    for note in notes(report):
        out.print(f"- {note}", highlight=False, soft_wrap=True)
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
    none_fits_rate: NoneFitsRate = None,
    none_fits_lift: NoneFitsLift = None,
    sample: Sample = None,
    seed: Seed = None,
    stratify: Stratify = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="calibration file to write (default: <rubric>.calibration.json beside the "
            "suite's rubric, the file /classify applies); an entry for the same rubric, "
            "scorer, model and prompt is replaced",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="fit and report, write nothing")
    ] = False,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    allow_missing: AllowMissing = False,
    require_data: RequireData = False,
) -> None:
    """Fit a temperature (and per-label thresholds, and a none_fits floor) on the calibration
    split; write it to --out (default beside the rubric, where /classify applies it); report
    NLL/ECE/Brier and none_fits rates before and after on the held-out split."""
    if objective not in ("confidence", "nll"):
        err.print(f"[red]error[/red] --objective must be confidence or nll, not {objective!r}")
        raise typer.Exit(EXIT_USAGE)
    loaded = load_or_exit(suite, data_dir)
    options = EvalOptions(sample=sample, seed=seed, stratify=stratify, cache=not no_cache)
    try:
        outcomes = calibrate_suite(
            loaded,
            _factory(cache_dir),
            options,
            precision=precision,
            objective="nll" if objective == "nll" else "confidence",
            per_label=label_thresholds,
            none_fits_rate=none_fits_rate,
            none_fits_lift=none_fits_lift,
            write=not dry_run,
            out=out_file,
            progress=progress_bar,
        )
    except DataMissingError as exc:
        raise missing_data(exc, allow_missing and not require_data) from None
    except (GatewayError, OSError, ValueError, RuntimeError) as exc:
        raise _failed(exc) from None
    print_calibrations(loaded, outcomes, decision_floors(options).multi_fit)


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
    stratify: Stratify = None,
    calibration: CalibrationFile = None,
    no_calibration: Annotated[
        bool, typer.Option("--no-calibration", help="on uncalibrated confidences")
    ] = False,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    allow_missing: AllowMissing = False,
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
    """Recommend auto_route / review thresholds from labelled data (on calibrated confidences
    where a calibration is stored); with --queue-budget N, the review threshold that makes the
    daily review queue about N tickets at the observed volume. Writes only the result cache."""
    if queue_budget is not None:
        _queue_budget(rubric, queue_budget, days)
        if suite is None:
            return
    if suite is None:
        err.print("[red]error[/red] give a suite, or --queue-budget N --rubric NAME")
        raise typer.Exit(EXIT_USAGE)
    loaded = load_or_exit(suite, data_dir)
    options = EvalOptions(
        sample=sample,
        seed=seed,
        stratify=stratify,
        split=split,
        cache=not no_cache,
        apply_calibration=not no_calibration,
        calibration_file=calibration,
    )
    try:
        advice = recommend_thresholds(
            loaded,
            _factory(cache_dir),
            options,
            precision=precision,
            review_precision=review_precision,
            progress=progress_bar,
        )
    except DataMissingError as exc:
        raise missing_data(exc, allow_missing and not require_data) from None
    except (GatewayError, ValueError) as exc:
        raise _failed(exc) from None
    print_advice(advice)


def register(app: typer.Typer) -> None:
    """Add the eval commands to the ``rubric`` CLI."""
    app.command("eval")(eval_command)
    app.command("calibrate")(calibrate_command)
    app.command("thresholds")(thresholds_command)
    app.command("compare")(compare_command)

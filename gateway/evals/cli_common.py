"""What the eval commands share: consoles, the progress bar, exit codes, common options and
the printers of gates and comparisons."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from gateway.config import PROJECT_ROOT
from gateway.errors import GatewayError
from gateway.evals.comparison import CHANGE_WORDS, Comparison
from gateway.evals.gates import parse_gate
from gateway.evals.loading import LoadedSuite, load_suite
from gateway.evals.runner import ProgressFn
from gateway.evals.suite import DataMissingError
from gateway.evals.suite_report import SuiteReport

out = Console()
err = Console(stderr=True)

DEFAULT_REPORTS = PROJECT_ROOT / "evals" / "reports"
REPORTS_ENV = "GATEWAY_EVAL_REPORTS_DIR"
# Exit codes: 1 a gate failed, 2 bad input, 3 the suite's data is not where it says (a typo in
# a path is not a skipped suite); with --allow-missing such a suite is skipped with 0.
EXIT_GATE, EXIT_USAGE, EXIT_NO_DATA = 1, 2, 3


class _Rate(ProgressColumn):
    """Tickets per second (rich's speed column formats bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("–/s" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[ProgressFn]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def load_or_exit(suite: Path, data_dir: Path | None) -> LoadedSuite:
    try:
        return load_suite(suite, data_dir)
    except GatewayError as exc:
        err.print(f"[red]error[/red] {exc.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from None


def missing_data(exc: DataMissingError, allow: bool) -> typer.Exit:
    """A suite asked for by name whose data is absent: an error (exit 3), or, with
    --allow-missing, skipped (exit 0)."""
    if allow:
        err.print(f"[yellow]skipped[/yellow]: {exc.message}", highlight=False, soft_wrap=True)
        return typer.Exit(0)
    err.print(f"[red]error[/red] {exc.message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_NO_DATA)


def parse_gates(specs: list[str] | None) -> list[tuple[str, float]]:
    try:
        return [parse_gate(s) for s in specs or []]
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from None


DataDir = Annotated[
    Path | None,
    typer.Option(help="where the datasets are (default: the suite's data_dir, relative to it)"),
]
AllowMissing = Annotated[
    bool,
    typer.Option(
        "--allow-missing",
        help="skip the suite (exit 0) when its data is absent; without it that is an error "
        "(exit 3)",
    ),
]
# the default since --allow-missing exists; kept so scripts that pass it keep working
RequireData = Annotated[bool, typer.Option("--require-data", hidden=True)]
Sample = Annotated[int | None, typer.Option(help="tickets to sample (default: the suite's)")]
Seed = Annotated[int | None, typer.Option(help="sampling seed (default: the suite's)")]
Stratify = Annotated[
    bool | None,
    typer.Option(
        "--stratify/--no-stratify",
        help="sample each gold label in proportion, every label at least once (default: the "
        "suite's sample.stratify)",
        show_default=False,
    ),
]
NoneFitsRate = Annotated[
    float | None,
    typer.Option(
        min=0,
        max=0.99,
        help="share of in-scope tickets the fitted none_fits floor may flag (default the "
        "suite's, 0.05); 0 keeps GATEWAY_NONE_FITS_FLOOR",
    ),
]
NoneFitsLift = Annotated[
    float | None,
    typer.Option(
        min=0,
        help="weight of a label's lift over its traffic in the none_fits fit score (default "
        "the suite's, 0.5); 0: the floor is on the best raw score",
    ),
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="neither read nor write the result cache (timings)")
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help="result cache directory (default: GATEWAY_CACHE_DIR, else .cache/results in the "
        "checkout)"
    ),
]
CalibrationFile = Annotated[
    Path | None,
    typer.Option(
        "--calibration",
        help="calibration file to read, e.g. one `rubric calibrate --out` wrote (default: "
        "<rubric>.calibration.json beside the suite's rubric)",
    ),
]


def print_gates(report: SuiteReport) -> None:
    for g in report.gates:
        colour = "green" if g.passed else "red"
        word = "pass" if g.passed else "FAIL"
        out.print(f"[{colour}]{word}[/{colour}] {g.run}: {g.kind} {g.message}", highlight=False)


def print_comparison(c: Comparison) -> None:
    table = Table(title=f"{c.b} vs {c.a} ({c.n_paired} paired tickets)")
    for col in ("metric", "A", "B", "B − A", "95% CI"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for d in c.deltas:
        table.add_row(
            d.name,
            "–" if d.a is None else f"{d.a:.3f}",
            "–" if d.b is None else f"{d.b:.3f}",
            "–" if d.delta is None else f"{d.delta:+.3f}",
            f"[{d.ci.low:+.3f}, {d.ci.high:+.3f}]" if d.ci else "",
        )
    out.print(table)
    t = c.mcnemar
    out.print(
        f"McNemar ({t.method}) p = {t.p_value:.4g}; fixed {c.n_fixed}, broken {c.n_broken}, "
        f"changed {c.n_changed}\n  ({CHANGE_WORDS})",
        highlight=False,
    )

"""``rubric compare A B``: two eval reports of the same suite, run by run. Writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.evals.cli_common import EXIT_GATE, EXIT_USAGE, err, out, print_comparison
from gateway.evals.comparison import compare_runs
from gateway.evals.gates import check_baseline
from gateway.evals.predictions import read_predictions
from gateway.evals.suite_report import read_report


def compare_command(
    a: Annotated[Path, typer.Argument(help="report directory (A, the reference)")],
    b: Annotated[Path, typer.Argument(help="report directory (B)")],
    tolerance: Annotated[
        float | None, typer.Option(help="exit 1 when B is worse than A by more than this")
    ] = None,
) -> None:
    """Compare two eval reports of the same suite, run by run (matched by run key): deltas
    with bootstrap CIs, McNemar, and the tickets whose top label differs: fixed (wrong in A,
    right in B), broken (right in A, wrong in B), changed (another label in B, wrong in both,
    as every label is for an out-of-scope ticket)."""
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

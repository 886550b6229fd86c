"""Eval reports on disk: metrics.json, report.md, PNG plots and per-ticket predictions.

The text is built in ``report_text``, the plots in ``plots`` (matplotlib loads only when a
report with plots is written).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from gateway.evals.plots import plot_confusion, plot_coverage, plot_reliability
from gateway.evals.predictions import RunResult, write_predictions
from gateway.evals.report_text import markdown
from gateway.evals.suite_report import SuiteReport


class ReportFiles(BaseModel):
    directory: Path
    metrics: Path
    markdown: Path
    plots: list[Path]
    predictions: list[Path]


def report_dir(root: Path, suite: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    base = root / f"{suite}-{stamp}"
    path, i = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path


def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_") or "run"


def write_report(
    report: SuiteReport, results: Sequence[RunResult], directory: Path, plots: bool = True
) -> ReportFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if plots:
        for m in report.runs:
            if m.run.variant == "cal":
                continue  # same labels as the run it calibrates: the same matrix
            found = plot_confusion(m, directory / f"confusion-{_slug(m.key)}.png")
            if found is not None:
                files.append(found)
        files.append(plot_reliability(report.runs, directory / "reliability.png"))
        files.append(plot_coverage(report.runs, directory / "coverage.png"))
    metrics_path = directory / "metrics.json"
    metrics_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md_path = directory / "report.md"
    md_path.write_text(markdown(report, files), encoding="utf-8")
    preds = [write_predictions(directory, r) for r in results]
    return ReportFiles(
        directory=directory, metrics=metrics_path, markdown=md_path, plots=files, predictions=preds
    )

"""A suite report as text: the side-by-side table in the terminal and report.md."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

from gateway.evals.comparison import CHANGE_WORDS, Comparison
from gateway.evals.report_rows import TABLE_ROWS, notes, table_rows
from gateway.evals.run_metrics import RunMetrics
from gateway.evals.suite_report import SuiteReport

__all__ = ["TABLE_ROWS", "markdown", "notes", "runs_table"]


def runs_table(report: SuiteReport) -> Table:
    """Metrics as rows, runs as columns: the view a PM compares prompts and models in (what
    the rows mean: ``report_rows.notes``)."""
    table = Table(title=f"{report.suite}: {report.dataset.n} tickets ({report.dataset.split})")
    table.add_column("metric")
    for m in report.runs:
        table.add_column(m.key, justify="right")
    for row in table_rows(report):
        table.add_row(*row)
    return table


# --------------------------------------------------------------------------- markdown


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
    return lines


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _top_confusions(m: RunMetrics, k: int = 10) -> list[tuple[str, str, int]]:
    if m.confusion is None:
        return []
    counts = np.array(m.confusion.counts)
    np.fill_diagonal(counts, 0)
    flat = np.argsort(counts, axis=None)[::-1][:k]
    out = []
    for f in flat:
        i, j = divmod(int(f), counts.shape[1])
        if counts[i, j] == 0:
            break
        out.append((m.confusion.labels[i], m.confusion.labels[j], int(counts[i, j])))
    return out


def _comparison_md(c: Comparison) -> list[str]:
    lines = [f"### {c.b} vs {c.a}", "", f"{c.n_paired} paired tickets.", ""]
    rows = []
    for d in c.deltas:
        ci = f"[{d.ci.low:+.3f}, {d.ci.high:+.3f}]" if d.ci else ""
        rows.append(
            [d.name, _num(d.a), _num(d.b), "–" if d.delta is None else f"{d.delta:+.3f}", ci]
        )
    lines += _md_table(["metric", "A", "B", "B − A", "95% bootstrap CI"], rows)
    t = c.mcnemar
    lines += [
        "",
        f"McNemar ({t.method}): right only in A = {t.b}, right only in B = {t.c}, "
        f"p = {t.p_value:.4g}.",
        f"Label changed on {c.n_fixed + c.n_broken + c.n_changed} tickets: "
        f"{c.n_fixed} fixed, {c.n_broken} broken, {c.n_changed} changed ({CHANGE_WORDS}).",
        "",
    ]
    if c.flips:
        shown = c.flips[:30]
        header = ["ticket", "gold", "A", "B", "change"]
        with_text = any(f.text for f in shown)
        if with_text:
            header.append("text")
        rows = []
        for f in shown:
            row = [f.id, ", ".join(f.gold) or "(none)", f.a or "–", f.b or "–", f.direction]
            if with_text:
                row.append((f.text or "")[:120])
            rows.append(row)
        lines += _md_table(header, rows)
        if len(c.flips) > len(shown):
            lines.append(f"\n… {len(c.flips) - len(shown)} more in metrics.json.")
        lines.append("")
    return lines


def markdown(report: SuiteReport, plots: Sequence[Path]) -> str:
    ds, rb = report.dataset, report.rubric
    lines = [
        f"# Eval: {report.suite}",
        "",
        f"- created: {report.created_at}",
        f"- dataset: `{ds.path}` split `{ds.split}`, {ds.n} tickets"
        + (
            f" ({'stratified ' if ds.stratified else ''}sample of {ds.sample_size}, seed {ds.seed})"
            if ds.sample_size
            else ""
        ),
        f"- data licence: {ds.licence}. {ds.attribution}",
        f"- rubric: `{rb.name}` ({rb.path}), axis `{rb.axis}`, {rb.labels} labels, "
        f"fingerprint `{rb.fingerprint[:12]}`",
        "",
        "## Runs",
        "",
    ]
    lines += _md_table(["metric", *[f"`{m.key}`" for m in report.runs]], table_rows(report))
    lines.append("")
    lines += [f"- {note}" for note in notes(report)]
    lines.append("")
    for m in report.runs:
        lines += [f"## Run `{m.key}`", ""]
        if m.failed:
            lines += [f"**FAILED**: {m.failure()}. No metrics: it answered no ticket.", ""]
            continue
        lines.append(
            f"scorer {m.scorer or '?'}, model {m.model or '?'}, "
            f"calibration {m.calibration or 'none'}; "
            f"{m.n} tickets in {m.timing.wall_s:.1f} s ({m.timing.tickets_per_s:.0f}/s)."
        )
        r = m.routing
        lines += [
            "",
            f"Routing at auto_route ≥ {m.thresholds.auto_route:.2f}, "
            f"review ≥ {m.thresholds.review:.2f}:",
            "",
        ]
        lines += _md_table(
            ["decision", "tickets", "share", "accuracy inside"],
            [
                [name, str(s.n), _pct(s.share), _num(s.accuracy)]
                for name, s in (
                    ("auto_route", r.auto_route),
                    ("review", r.review),
                    ("manual", r.manual),
                )
            ],
        )
        if m.oos is not None:
            o = m.oos
            lines += [
                "",
                f"Out of scope: {o.n} tickets; AUROC (confidence) {_num(o.auroc)}, "
                f"AUROC (none_fits signal) {_num(o.auroc_max_raw)}; marked none_fits: "
                f"{_pct(o.none_fits_recall)} of out-of-scope vs {_pct(o.none_fits_in_scope)} of "
                f"in-scope; not auto-routed: {_pct(o.manual_recall)}. {o.auto_routed} "
                "auto-routed, each counted wrong in auto-routed accuracy "
                f"({_num(r.auto_route.accuracy)}; {_num(o.auto_route_accuracy_in_scope)} on "
                "in-scope tickets alone).",
            ]
        confusions = _top_confusions(m)
        if confusions:
            lines += ["", "Most frequent confusions (gold → predicted):", ""]
            lines += _md_table(
                ["gold", "predicted", "tickets"], [[a, b, str(n)] for a, b, n in confusions]
            )
        worst = sorted(m.per_label.items(), key=lambda kv: kv[1].f1)[:10]
        if worst:
            lines += ["", "Weakest labels:", ""]
            lines += _md_table(
                ["label", "precision", "recall", "F1", "support"],
                [
                    [k, _num(v.precision), _num(v.recall), _num(v.f1), str(v.support)]
                    for k, v in worst
                ],
            )
        lines.append("")
    if report.comparisons:
        lines += ["## Comparisons", ""]
        for c in report.comparisons:
            lines += _comparison_md(c)
    if report.gates:
        lines += ["## Gates", ""]
        lines += _md_table(
            ["run", "gate", "result"],
            [
                [g.run, g.kind, ("pass: " if g.passed else "**FAIL**: ") + g.message]
                for g in report.gates
            ],
        )
        lines.append("")
    if plots:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    lines += [
        "Per-label precision/recall/F1 and the full confusion matrix are in `metrics.json`; "
        "per-ticket outcomes (every label's score and raw score; no text) in "
        "`predictions-*.jsonl`.",
        "",
    ]
    return "\n".join(lines)

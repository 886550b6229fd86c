"""A suite report as text: the side-by-side table in the terminal and report.md."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

from gateway.evals.comparison import Comparison
from gateway.evals.run_metrics import RunMetrics, metric_value
from gateway.evals.suite_report import SuiteReport

# rows of the side-by-side table: (metric name, label, format)
TABLE_ROWS: list[tuple[str, str, str]] = [
    ("accuracy", "accuracy", "{:.3f}"),
    ("macro_f1", "macro-F1", "{:.3f}"),
    ("weighted_f1", "weighted-F1", "{:.3f}"),
    ("micro_f1", "micro-F1 (multi-label)", "{:.3f}"),
    ("exact_match", "exact set match", "{:.3f}"),
    ("oos_auroc", "OOS AUROC", "{:.3f}"),
    ("ece", "ECE", "{:.3f}"),
    ("ece_all", "ECE incl. OOS", "{:.3f}"),
    ("brier", "Brier", "{:.3f}"),
    ("auto_route_share", "auto-routed share", "{:.1%}"),
    ("auto_route_accuracy", "auto-routed accuracy", "{:.3f}"),
    ("latency_p95_ms", "latency p95 (ms, batch)", "{:.0f}"),
    ("ms_per_ticket", "ms / ticket", "{:.1f}"),
    ("cost_usd", "cost (USD)", "{:.4f}"),
]


def _cell(m: RunMetrics, name: str, fmt: str) -> str:
    value = metric_value(m, name)
    return "–" if value is None else fmt.format(value)


def runs_table(report: SuiteReport) -> Table:
    """Metrics as rows, runs as columns: the view a PM compares prompts and models in."""
    table = Table(title=f"{report.suite}: {report.dataset.n} tickets ({report.dataset.split})")
    table.add_column("metric")
    for m in report.runs:
        table.add_column(m.key + (f"\n{m.calibration}" if m.calibration else ""), justify="right")
    for name, label, fmt in TABLE_ROWS:
        cells = [_cell(m, name, fmt) for m in report.runs]
        if all(c == "–" for c in cells):
            continue
        table.add_row(label, *cells)
    table.add_row("cache hits", *[f"{m.cache_hits}/{m.n}" for m in report.runs])
    table.add_row("errors", *[str(m.n_errors) for m in report.runs])
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
        f"{c.n_fixed} fixed, {c.n_broken} broken, {c.n_changed} changed between wrong labels.",
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
        + (f" (sample of {ds.sample_size}, seed {ds.seed})" if ds.sample_size else ""),
        f"- data licence: {ds.licence}. {ds.attribution}",
        f"- rubric: `{rb.name}` ({rb.path}), axis `{rb.axis}`, {rb.labels} labels, "
        f"fingerprint `{rb.fingerprint[:12]}`",
        "",
        "## Runs",
        "",
    ]
    rows = []
    for name, label, fmt in TABLE_ROWS:
        cells = [_cell(m, name, fmt) for m in report.runs]
        if not all(c == "–" for c in cells):
            rows.append([label, *cells])
    rows.append(["cache hits", *[f"{m.cache_hits}/{m.n}" for m in report.runs]])
    rows.append(["errors", *[str(m.n_errors) for m in report.runs]])
    lines += _md_table(["metric", *[f"`{m.key}`" for m in report.runs]], rows)
    lines.append("")
    for m in report.runs:
        lines += [f"## Run `{m.key}`", ""]
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
                f"AUROC (best raw) {_num(o.auroc_max_raw)}; marked none_fits: "
                f"{_pct(o.none_fits_recall)} of out-of-scope vs {_pct(o.none_fits_in_scope)} of "
                f"in-scope; not auto-routed: {_pct(o.manual_recall)}.",
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
        "per-ticket outcomes (no text) in `predictions-*.jsonl`.",
        "",
    ]
    return "\n".join(lines)

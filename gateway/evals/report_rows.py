"""The side-by-side table's rows and the notes that say what its numbers mean, shared by the
terminal table and report.md, so both read the same."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.evals.run_metrics import RunMetrics, metric_value
from gateway.evals.suite_report import SuiteReport

# rows of the side-by-side table: (metric name, label, format); labels that depend on the
# report (out-of-scope tickets, tickets per call) are written by ``table_rows``
TABLE_ROWS: list[tuple[str, str, str]] = [
    ("accuracy", "accuracy", "{:.3f}"),
    ("macro_f1", "macro-F1 (gold labels)", "{:.3f}"),
    ("weighted_f1", "weighted-F1", "{:.3f}"),
    ("micro_f1", "micro-F1 (multi-label)", "{:.3f}"),
    ("exact_match", "exact set match", "{:.3f}"),
    ("oos_auroc", "OOS AUROC (none_fits signal)", "{:.3f}"),
    ("oos_auroc_confidence", "OOS AUROC (confidence)", "{:.3f}"),
    ("none_fits_oos", "none_fits: share of out-of-scope", "{:.1%}"),
    ("none_fits_in_scope", "none_fits: share of in-scope", "{:.1%}"),
    ("ece", "ECE", "{:.3f}"),
    ("ece_all", "ECE incl. OOS", "{:.3f}"),
    ("brier", "Brier", "{:.3f}"),
    ("auto_route_share", "auto-routed share", "{:.1%}"),
    ("auto_route_accuracy", "auto-routed accuracy", "{:.3f}"),
    ("auto_route_accuracy_in_scope", "auto-routed accuracy, in-scope only", "{:.3f}"),
    ("latency_p95_ms", "latency p95 per call (ms)", "{:.0f}"),
    ("latency_p95_per_ticket_ms", "latency p95 per ticket (ms)", "{:.1f}"),
    ("ms_per_ticket", "ms / ticket (wall time)", "{:.1f}"),
    ("cost_usd", "cost (USD)", "{:.4f}"),
]


def _cell(m: RunMetrics, name: str, fmt: str) -> str:
    value = metric_value(m, name)
    return "–" if value is None else fmt.format(value)


def _has_oos(runs: Sequence[RunMetrics]) -> bool:
    return any(m.oos is not None for m in runs)


def _per_call(runs: Sequence[RunMetrics]) -> int | None:
    sizes = [m.timing.tickets_per_call for m in runs if m.timing.tickets_per_call]
    return max(sizes) if sizes else None


def _label(name: str, label: str, runs: Sequence[RunMetrics]) -> str:
    if name == "auto_route_accuracy" and _has_oos(runs):
        return "auto-routed accuracy (OOS count as wrong)"
    if name == "latency_p95_ms" and _per_call(runs):
        return f"latency p95 per call of ≤{_per_call(runs)} tickets (ms)"
    return label


def table_rows(report: SuiteReport) -> list[list[str]]:
    """[label, cell per run] for every metric some run has, then calibration, cache, errors."""
    runs = report.runs
    rows = []
    for name, label, fmt in TABLE_ROWS:
        cells = [_cell(m, name, fmt) for m in runs]
        if not all(c == "–" for c in cells):
            rows.append([_label(name, label, runs), *cells])
    rows.append(["calibration", *[m.calibration or "none" for m in runs]])
    rows.append(["cache hits", *[f"{m.cache_hits}/{m.n}" for m in runs]])
    rows.append(["errors", *[_errors(m) for m in runs]])
    return rows


def _errors(m: RunMetrics) -> str:
    return f"{m.n_errors}/{m.n}: ALL FAILED" if m.failed else str(m.n_errors)


def notes(report: SuiteReport) -> list[str]:
    """What the table's less obvious rows mean, for this report."""
    runs = report.runs
    out = [f"{m.key}: FAILED, {m.failure()}; it has no metrics." for m in runs if m.failed]
    gold = sorted({(m.gold_labels, report.rubric.labels) for m in runs if m.gold_labels})
    if gold:
        counts = " or ".join(f"{g} of {n}" for g, n in gold)
        out.append(
            "macro-F1, macro precision and recall average over the labels that have gold "
            f"tickets in this set ({counts} rubric labels); a label with no gold ticket is "
            "left out, even where it was predicted (its wrong predictions still lower the "
            "recall of the labels they were taken from)."
        )
    if _has_oos(runs):
        routed = ", ".join(f"{m.key} {m.oos.auto_routed} of {m.oos.n}" for m in runs if m.oos)
        out.append(
            "auto-routed accuracy counts an auto-routed out-of-scope ticket as wrong, as no "
            f"label is right for it (out-of-scope tickets auto-routed: {routed}); the in-scope "
            "row leaves them out. accuracy, F1, ECE and Brier are over in-scope tickets."
        )
        out.append(
            "OOS AUROC (none_fits signal) ranks tickets by what none_fits is decided on: the "
            "best raw score, or in a calibrated run with a fitted none_fits floor, its fit "
            "score (each label's raw score lifted over its calibration traffic)."
        )
    per_call = _per_call(runs)
    if per_call:
        out.append(
            f"latency per call: one classify call of up to {per_call} tickets (what a batch "
            "caller waits); per ticket: each call's latency ÷ its tickets; ms / ticket: the "
            "run's wall time ÷ tickets (throughput)."
        )
    out.extend(calibration_notes(report))
    return out


def calibration_notes(report: SuiteReport) -> list[str]:
    """Which calibration each run's numbers used."""
    info = report.calibration
    if info is None:
        return []
    plain = [m.key for m in report.runs if m.run.variant != "cal"]
    lines = [f"{', '.join(plain)}: uncalibrated (the scorer's own distribution)."]
    if not info.applied:
        lines.append("--no-calibration: no calibrated runs.")
    for u in info.used:
        fitted = f", fitted on {u.fitted_on}" if u.fitted_on else ""
        bars = f", {u.label_thresholds} per-label auto-route bars" if u.label_thresholds else ""
        if u.none_fits_floor is not None:
            bars += f", none_fits floor {u.none_fits_floor:.4g}"
        lines.append(
            f"{', '.join(u.runs)}: the same responses with calibration {u.id} from {u.file} "
            f"(temperature {u.temperature:.4g}, objective {u.objective}{bars}{fitted}), "
            "decided again as the server decides."
        )
    if info.missing:
        lines.append(f"{', '.join(info.missing)}: no calibration stored for it in {info.file}.")
    return lines

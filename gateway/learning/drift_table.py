"""A drift report as text: one row per window in the terminal, and a one-line summary."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.table import Table
from rich.text import Text

from gateway.learning.drift import DriftReport, DriftWindow


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def when(at: datetime, window: timedelta) -> str:
    """A window's start: whole days read as dates; shorter windows need the time."""
    days = window.total_seconds() % 86400 == 0 and at.hour == at.minute == 0
    return at.strftime("%Y-%m-%d" if days else "%Y-%m-%d %H:%M")


def _psi(w: DriftWindow, warn: float) -> Text:
    text = f"{w.psi:.3f}" + (" (small)" if w.small else "")
    if w.small:
        return Text(text, style="dim")  # a handful of tickets: not to be trusted
    return Text(text, style="bold red" if w.warn else "yellow" if w.psi > warn else "")


def drift_table(report: DriftReport) -> Table:
    """One row per window (per fingerprint, after a rubric edit): volume, PSI against the
    reference, chi-square p, confidence, none-fits and accuracy."""
    o = report.options
    several = len(report.fingerprints) > 1
    table = Table(
        title=f"drift: {report.rubric}.{report.axis}",
        caption=(
            "PSI: against the reference (ref) of the same rubric fingerprint, less what sampling "
            f"alone gives; red above {o.psi_warn:g} (yellow: partial window, …). "
            "est. acc.: mean confidence of the labelled tickets."
        ),
    )
    names = ["window", *(["fingerprint"] if several else []), "n", "PSI", "χ² p"]
    for name in [*names, "mean conf", "none-fits", "est. acc", "obs. acc"]:
        table.add_column(name, justify="left" if name in ("window", "fingerprint") else "right")
    for w in report.windows:
        start = when(w.start, o.window) + (" ref" if w.is_reference else "")
        start += "" if w.full else " …"
        obs = "–" if w.observed_accuracy is None else f"{w.observed_accuracy:.3f} ({w.n_labelled})"
        p = Text(f"{w.p_value:.2g}", style="yellow" if w.significant else "")
        table.add_row(
            start,
            *([w.fingerprint[:12]] if several else []),
            str(w.n),
            _psi(w, o.psi_warn),
            p,
            _num(w.mean_confidence),
            f"{w.none_fits_share:.1%}",
            _num(w.estimated_accuracy),
            obs,
        )
    return table


def drift_summary(report: DriftReport) -> str:
    """One line: the reference, the newest full window and how many windows warned."""
    head = f"{report.rubric}.{report.axis}: {len(report.windows)} window(s)"
    ref = report.reference
    if ref is None:
        return f"{head}: no classified tickets"
    o = report.options
    parts = [head, f"reference {when(ref.start, o.window)} ({ref.n} tickets)"]
    if len(report.fingerprints) > 1:
        parts[0] += f", {len(report.fingerprints)} rubric fingerprints (each its own reference)"
    w = report.latest
    if w is None:
        parts.append(f"no full window with ≥ {o.min_points} tickets yet")
    else:
        latest = (
            f"latest {when(w.start, o.window)}: PSI {w.psi:.3f}, χ² p {w.p_value:.2g}, "
            f"conf {w.mean_confidence:.3f}, none-fits {w.none_fits_share:.1%}"
        )
        if w.observed_accuracy is not None:
            latest += f", obs. acc {w.observed_accuracy:.3f} (n={w.n_labelled})"
        if w.warn and w.movers:
            latest += "; moved most: " + ", ".join(
                f"{m.label} {m.reference_share:.1%}→{m.share:.1%}" for m in w.movers
            )
        parts.append(latest)
    warned = sum(w.warn for w in report.windows)
    parts.append(f"{warned} window(s) over PSI {o.psi_warn:g}" if warned else "no drift warnings")
    return "; ".join(parts)

"""A drift report as a PNG: label shares, PSI, confidence against accuracy, none-fits and volume.

matplotlib is imported inside ``plot_drift`` and drawn on a bare ``Figure`` (rendered by Agg, no
pyplot, no display, no global backend switch), so importing the CLI never pays for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.learning.drift import DriftReport, DriftWindow
from gateway.learning.drift_table import when as _when

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TOP_LABELS = 8
"""Labels drawn by name in the shares panel; the rest are summed into one band."""

_COLOURS = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9"]  # C7 is the grey of "other"


def _duration(window: timedelta) -> str:
    seconds = window.total_seconds()
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}" + ("s" if unit == "day" and n > 1 else "")
    return f"{seconds:g} s"


def _num(at: datetime) -> float:
    from matplotlib.dates import date2num

    return float(date2num(at))  # type: ignore[no-untyped-call]


def _x(w: DriftWindow) -> float:
    return _num(w.start + (w.end - w.start) / 2)  # a window is drawn at its middle


def _slots(report: DriftReport) -> list[tuple[float, list[DriftWindow]]]:
    """Windows by time: after a rubric edit one slot holds a window per fingerprint."""
    slots: dict[float, list[DriftWindow]] = {}
    for w in report.windows:
        slots.setdefault(_x(w), []).append(w)
    return list(slots.items())


def _top_labels(report: DriftReport, n: int) -> list[str]:
    total = {
        label: sum(w.shares.get(label, 0.0) * w.n for w in report.windows)
        for label in report.labels
    }
    ranked = sorted((label for label in total if total[label] > 0), key=lambda k: -total[k])
    return ranked if len(ranked) <= n + 1 else ranked[:n]  # never a band of a single label


def _shares_panel(ax: Axes, report: DriftReport, xs: Sequence[float]) -> None:
    top = _top_labels(report, TOP_LABELS)
    rows: list[list[float]] = [[] for _ in top]
    rest: list[float] = []
    for _, ws in _slots(report):
        n = sum(w.n for w in ws)
        shares = [sum(w.shares.get(label, 0.0) * w.n for w in ws) / n for label in top]
        for row, share in zip(rows, shares, strict=True):
            row.append(share)
        rest.append(max(0.0, 1.0 - sum(shares)))
    names = list(top)
    others = len([label for label in report.labels if label not in top])
    if others and any(r > 1e-9 for r in rest):
        rows.append(rest)
        names.append(f"{others} other labels")
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(top))] + ["lightgrey"]
    ax.stackplot(xs, rows, labels=names, colors=colours[: len(rows)], alpha=0.85)
    ax.set_ylim(0, 1)
    ax.set_ylabel("predicted-label share")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _psi_panel(ax: Axes, report: DriftReport) -> None:
    from matplotlib.lines import Line2D

    warn = report.options.psi_warn
    for f in report.fingerprints:
        ws = [w for w in report.windows if w.fingerprint == f]
        xs = [_x(w) for w in ws]
        ax.plot(xs, [w.psi for w in ws], color="C0", linewidth=1.5)
        ax.plot(xs, [w.psi_raw for w in ws], color="C0", alpha=0.35, linewidth=1, linestyle=":")
        for w in ws:
            colour = "C3" if w.warn else "C0"
            face = "none" if w.small or not w.full else colour
            ax.plot(_x(w), w.psi, "o", color=colour, markerfacecolor=face, markersize=5)
            if w.is_reference:
                ax.annotate(
                    "ref",
                    (_x(w), w.psi),
                    xytext=(0, 6),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                    color="grey",
                )
    ax.axhline(warn, color="C3", linestyle="--", linewidth=1)
    ax.text(
        0.005,
        warn,
        f" warn {warn:g}",
        transform=ax.get_yaxis_transform(),
        color="C3",
        va="bottom",
        fontsize=8,
    )
    top = max([w.psi for w in report.windows] + [w.psi_raw for w in report.windows] + [warn])
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("PSI vs reference")
    handles = [
        Line2D([], [], color="C0", label="PSI less sampling floor"),
        Line2D([], [], color="C0", alpha=0.35, linestyle=":", label="raw PSI"),
        Line2D([], [], color="C3", marker="o", linestyle="", label=f"warned (> {warn:g})"),
    ]
    if any(w.small or not w.full for w in report.windows):
        handles.append(
            Line2D(
                [],
                [],
                color="C0",
                marker="o",
                markerfacecolor="none",
                linestyle="",
                label="small or partial window",
            )
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
    )


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _accuracy_panel(ax: Axes, report: DriftReport) -> None:
    for i, f in enumerate(report.fingerprints):
        ws = [w for w in report.windows if w.fingerprint == f]
        xs = [_x(w) for w in ws]
        first = i == 0
        ax.plot(
            xs,
            [w.mean_confidence for w in ws],
            color="C2",
            marker=".",
            label="mean confidence (all)" if first else None,
        )
        ax.plot(
            xs,
            [_nan(w.estimated_accuracy) for w in ws],
            color="C2",
            linestyle="--",
            label="estimated accuracy (labelled)" if first else None,
        )
        ax.plot(
            xs,
            [_nan(w.observed_accuracy) for w in ws],
            color="C1",
            marker="s",
            markersize=4,
            label="observed accuracy (labelled)" if first else None,
        )
    n = sum(w.n_labelled for w in report.windows)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("confidence / accuracy")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title=f"{n} labelled",
        title_fontsize=8,
    )


def _volume_panel(ax: Axes, report: DriftReport, xs: Sequence[float]) -> None:
    slots = _slots(report)
    volume = ax.twinx()
    width = report.options.window.total_seconds() / 86400 * 0.8  # in days, matplotlib's unit
    volume.bar(
        xs,
        [sum(w.n for w in ws) for _, ws in slots],
        width=width,
        color="lightgrey",
        alpha=0.6,
        label="tickets",
    )
    volume.set_ylabel("tickets per window", color="grey", fontsize=8)
    volume.tick_params(axis="y", labelcolor="grey", labelsize=8)
    ax.set_zorder(volume.get_zorder() + 1)
    ax.patch.set_visible(False)  # the share line above the bars
    shares = [sum(w.none_fits_share * w.n for w in ws) / sum(w.n for w in ws) for _, ws in slots]
    ax.plot(xs, shares, color="C4", marker=".", label="none fits")
    ax.set_ylim(0, max([*shares, 0.05]) * 1.25)
    ax.yaxis.set_major_formatter("{x:.0%}")
    ax.set_ylabel("none-fits share")
    handles = ax.get_legend_handles_labels()[0] + volume.get_legend_handles_labels()[0]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=8, frameon=False
    )


def plot_drift(report: DriftReport, path: Path) -> Path:
    """Write the report's plot to ``path`` (PNG; parent directories made) and return it."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"drift: {report.rubric}.{report.axis}"
    if not report.windows:
        fig = Figure(figsize=(6, 2))
        fig.text(0.5, 0.5, f"{title}\nno classified tickets", ha="center", va="center")
        fig.savefig(path, dpi=110, format="png")
        return path

    fig = Figure(figsize=(12, 11), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, height_ratios=(3, 2, 2, 1.5))
    xs = [start for start, _ in _slots(report)]
    _shares_panel(axes[0], report, xs)
    _psi_panel(axes[1], report)
    _accuracy_panel(axes[2], report)
    _volume_panel(axes[3], report, xs)
    for f in report.fingerprints[1:]:  # rubric edits: each fingerprint has its own reference
        edit = _num(min(w.start for w in report.windows if w.fingerprint == f))
        for ax in axes:
            ax.axvline(edit, color="black", linestyle=":", linewidth=1)
        axes[0].annotate(
            f"rubric edited ({f[:8]})",
            (edit, 1.0),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=7,
            va="top",
        )
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    o, ref = report.options, report.reference
    if isinstance(o.reference, tuple):
        sub = f"reference {_when(o.reference[0], o.window)} to {_when(o.reference[1], o.window)}"
    else:
        sub = "reference: the first full window of each rubric fingerprint"
        if ref is not None:
            sub += f" (newest: {_when(ref.start, o.window)}, {ref.n} tickets)"
    sub = f"window {_duration(o.window)}; {sub}"
    fig.suptitle(f"{title}\n{sub}", fontsize=11)
    fig.savefig(path, dpi=110, format="png")
    return path

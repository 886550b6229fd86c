"""Inline SVG charts for the overview: drawn here, no JavaScript, readable without colour
alone (every series is named in a legend and in each bar's tooltip)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

# colour-blind-safe (Okabe-Ito), then grey for "other"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOUR = "#999999"


def colour(i: int, name: str) -> str:
    return OTHER_COLOUR if name == "(other)" else PALETTE[i % len(PALETTE)]


def stacked_shares(
    title: str, days: Sequence[str], shares: Sequence[Mapping[str, float]], series: Sequence[str]
) -> Markup:
    """One stacked bar per day: each series' share of that day's tickets."""
    width, height, left, bottom, top = 640, 220, 40, 28, 10
    plot_h = height - bottom - top
    n = max(len(days), 1)
    slot = (width - left - 10) / n
    bar = min(48.0, slot * 0.7)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + 24 * len(series) // 3 + 24}"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.0%}</text>'
        )
    for d, (day, day_shares) in enumerate(zip(days, shares, strict=True)):
        x = left + d * slot + (slot - bar) / 2
        y = top + plot_h
        for i, name in enumerate(series):
            share = day_shares.get(name, 0.0)
            if share <= 0:
                continue
            h = plot_h * share
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour(i, name)}"><title>{escape(day)} {escape(name)}: '
                f"{share:.0%}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle">'
            f"{escape(day[5:])}</text>"
        )
    for i, name in enumerate(series):
        lx = left + (i % 3) * 200
        ly = height + 8 + (i // 3) * 20
        parts.append(
            f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour(i, name)}"/>'
            f'<text x="{lx + 18}" y="{ly + 11}">{escape(name[:28])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every value above is escaped)


def line(title: str, days: Sequence[str], values: Sequence[float | None]) -> Markup:
    """A share over days (0..1), one point per day; gaps where a day has none."""
    width, height, left, bottom, top = 640, 160, 40, 28, 10
    plot_h = height - bottom - top
    n = max(len(days), 1)
    slot = (width - left - 10) / n
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:.0%}</text>'
        )
    points = []
    for d, (day, value) in enumerate(zip(days, values, strict=True)):
        x = left + d * slot + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle">{escape(day[5:])}</text>'
        )
        if value is None:
            continue
        y = top + plot_h * (1 - value)
        points.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{PALETTE[0]}">'
            f"<title>{escape(day)}: {value:.0%}</title></circle>"
        )
    if len(points) > 1:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{PALETTE[0]}" '
            'stroke-width="2"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every value above is escaped)

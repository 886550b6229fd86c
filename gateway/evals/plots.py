"""A suite report's PNG plots: confusion matrix, reliability and accuracy against coverage.

matplotlib's Agg backend (no display needed), imported lazily, so the metric code and the
gateway itself never pay for matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gateway.evals.run_metrics import RunMetrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _agg() -> None:
    import matplotlib

    # no display on servers and CI; must happen before pyplot is first imported
    matplotlib.use("Agg")


def _save(fig: Figure, path: Path) -> Path:
    """Saved with the canvas grown to hold every label, title and legend (``bbox_inches``), in
    place of ``tight_layout``, which cannot fit long labels into a fixed figure: it warns
    ("Tight layout not applied") and leaves them clipped."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
    return path


# a confusion matrix names every label up to this many; beyond, the ticks would be unreadable
MAX_TICK_LABELS = 200


def plot_confusion(m: RunMetrics, path: Path) -> Path | None:
    if m.confusion is None:
        return None
    _agg()
    import matplotlib.pyplot as plt

    counts = np.array(m.confusion.counts, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    n = len(m.confusion.labels)
    # the matrix's side; labels go outside it and the canvas grows to hold them (``_save``)
    size = min(24.0, max(4.0, n * 0.16))
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
    if n <= MAX_TICK_LABELS:
        # a label's text no taller than its row (0.7 × the row's height in points)
        fontsize = max(3.0, min(9.0, 0.7 * 72 * size * 0.8 / n))
        ax.set_xticks(range(n), m.confusion.labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(n), m.confusion.labels, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"Confusion (row-normalised): {m.key}")
    return _save(fig, path)


def plot_reliability(runs: Sequence[RunMetrics], path: Path) -> Path:
    _agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    for m in runs:
        xs = [b.confidence for b in m.reliability if b.count and b.confidence is not None]
        ys = [b.accuracy for b in m.reliability if b.count and b.accuracy is not None]
        ax.plot(xs, ys, marker="o", label=f"{m.key} (ECE {m.ece:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (bin mean)")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability (in-scope tickets)")
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def plot_coverage(runs: Sequence[RunMetrics], path: Path) -> Path:
    _agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for m in runs:
        pts = [p for p in m.coverage if p.accuracy is not None]
        line = ax.plot(
            [p.coverage for p in pts], [p.accuracy or 0.0 for p in pts], marker=".", label=m.key
        )
        colour = line[0].get_color()
        for name in ("auto_route", "review"):
            t = getattr(m.thresholds, name)
            near = min(m.coverage, key=lambda p: abs(p.threshold - t))
            if near.accuracy is not None:
                ax.scatter([near.coverage], [near.accuracy], color=colour, marker="s", zorder=3)
                ax.annotate(
                    f"{name} {t:.2f}",
                    (near.coverage, near.accuracy),
                    fontsize=7,
                    xytext=(4, -10),
                    textcoords="offset points",
                )
    ax.set_xlabel("coverage (share of tickets with confidence ≥ threshold)")
    ax.set_ylabel("accuracy of those tickets")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("Accuracy vs coverage across thresholds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)

"""Which windows of a long ticket the embedded scorer reads.

A ticket longer than the encoder's 256 tokens is split into overlapping windows; each window is
scored on its own and a label's similarity is its best window's (measured on the long-ticket
suite: pooling window embeddings, by mean or max, drowns a short request in its filler; the
best window keeps it; README, "Long tickets"). Reading every window costs linearly in length,
so at most ``max_windows`` are read: the first (subject, greeting, often the request) and the
last (the ask at the end), and between them those sharing the most rare words with the
rubric's label texts, a lexical score that costs no model call.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from gateway.schemas import Reading

TokenWeights = Mapping[int, float]


def label_token_weights(label_tokens: Sequence[Sequence[int]]) -> dict[int, float]:
    """Weight of each token that appears in some label's texts: log(1 + labels / labels
    naming it), so a token in every label's text (a stop word) weighs little."""
    counts: Counter[int] = Counter()
    for tokens in label_tokens:
        counts.update(set(tokens))
    n = len(label_tokens)
    return {token: math.log1p(n / df) for token, df in counts.items()}


class WindowPlan(BaseModel):
    """The windows read of one ticket, in text order, and what was left out."""

    windows: list[list[int]]
    reading: Reading


def plan_windows(
    windows: Sequence[Sequence[int]], weights: Sequence[TokenWeights], max_windows: int
) -> WindowPlan:
    """First, last, and the best middle windows by rare-word overlap with the labels.

    ``weights``: one map per axis being answered; a window's score sums over them. A token
    found in most windows of this ticket is its background and counts little."""
    total = len(windows)
    if total <= max_windows:
        keep = list(range(total))
    else:
        present = [set(w) for w in windows]
        df: Counter[int] = Counter()
        for window in present:
            df.update(window)

        def score(i: int) -> float:
            return sum(
                sum(axis.get(t, 0.0) for axis in weights) * math.log1p(total / df[t])
                for t in present[i]
            )

        middle = sorted(range(1, total - 1), key=lambda i: (-score(i), i))[: max_windows - 2]
        keep = sorted({0, total - 1, *middle})
    return WindowPlan(
        windows=[list(windows[i]) for i in keep],
        reading=Reading(windows=total, read=len(keep), cut=len(keep) < total),
    )

"""B against A on the same tickets: metric deltas with paired bootstrap CIs, McNemar on
correctness, and the tickets whose label changed (``rubric compare``, ``--baseline``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel

from gateway.evals.metrics import macro_f1_from_arrays
from gateway.evals.paired import Interval, McNemar, accuracy_of, bootstrap_delta, mcnemar
from gateway.evals.predictions import RunResult
from gateway.evals.run_metrics import RunMetrics, metric_value

# what the three kinds of label change mean, for the terminal and report.md
CHANGE_WORDS = (
    "fixed: wrong in A, right in B; broken: right in A, wrong in B; changed: another label in "
    "B but wrong in both, as every label is for an out-of-scope ticket"
)


class Flip(BaseModel):
    id: str
    gold: list[str]
    a: str | None
    b: str | None
    direction: Literal["fixed", "broken", "changed"]
    text: str | None = None


class MetricDelta(BaseModel):
    name: str
    a: float | None
    b: float | None
    delta: float | None
    ci: Interval | None = None


class Comparison(BaseModel):
    a: str
    b: str
    n_paired: int
    deltas: list[MetricDelta]
    mcnemar: McNemar
    n_fixed: int
    n_broken: int
    n_changed: int
    flips: list[Flip]


def compare_runs(
    a: RunResult,
    b: RunResult,
    labels: Sequence[str],
    metrics_a: RunMetrics,
    metrics_b: RunMetrics,
    *,
    texts: dict[str, str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    max_flips: int = 200,
) -> Comparison:
    """B against A on the tickets both answered: deltas with paired bootstrap CIs (accuracy,
    macro-F1), McNemar on correctness, and the tickets whose label changed.

    ``texts`` (id -> text) is passed only where the dataset's licence allows sharing text.
    """
    index = {name: i for i, name in enumerate(labels)}
    by_id = {p.id: p for p in b.predictions if p.error is None}
    pairs = [(p, by_id[p.id]) for p in a.predictions if p.error is None and p.id in by_id]
    scoped = [(pa, pb) for pa, pb in pairs if pa.in_scope and pa.gold]
    gold = np.array([index[pa.gold[0]] for pa, _ in scoped], dtype=np.int64)
    pred_a = np.array([index.get(pa.top_label or "", -1) for pa, _ in scoped], dtype=np.int64)
    pred_b = np.array([index.get(pb.top_label or "", -1) for _, pb in scoped], dtype=np.int64)
    n_labels = len(labels)

    def f1(t: np.ndarray, p: np.ndarray) -> float:
        return macro_f1_from_arrays(t, p, n_labels)

    deltas = [
        MetricDelta(
            name="accuracy",
            a=metrics_a.accuracy,
            b=metrics_b.accuracy,
            delta=metrics_b.accuracy - metrics_a.accuracy,
            ci=bootstrap_delta(accuracy_of, gold, pred_a, pred_b, n_resamples, seed),
        ),
        MetricDelta(
            name="macro_f1",
            a=metrics_a.macro_f1,
            b=metrics_b.macro_f1,
            delta=metrics_b.macro_f1 - metrics_a.macro_f1,
            ci=bootstrap_delta(f1, gold, pred_a, pred_b, max(200, n_resamples // 5), seed),
        ),
    ]
    for name in ("weighted_f1", "ece", "brier", "oos_auroc", "auto_route_share", "ms_per_ticket"):
        va, vb = metric_value(metrics_a, name), metric_value(metrics_b, name)
        deltas.append(
            MetricDelta(
                name=name, a=va, b=vb, delta=vb - va if va is not None and vb is not None else None
            )
        )
    test = mcnemar([pa.correct for pa, _ in pairs], [pb.correct for _, pb in pairs])
    flips: list[Flip] = []
    counts = {"fixed": 0, "broken": 0, "changed": 0}
    for pa, pb in pairs:
        if pa.top_label == pb.top_label:
            continue
        direction: Literal["fixed", "broken", "changed"] = (
            "fixed"
            if pb.correct and not pa.correct
            else "broken"
            if pa.correct and not pb.correct
            else "changed"
        )
        counts[direction] += 1
        flips.append(
            Flip(
                id=pa.id,
                gold=pa.gold,
                a=pa.top_label,
                b=pb.top_label,
                direction=direction,
                text=texts.get(pa.id) if texts else None,
            )
        )
    order = {"broken": 0, "fixed": 1, "changed": 2}
    flips.sort(key=lambda f: (order[f.direction], f.id))
    return Comparison(
        a=a.run.key,
        b=b.run.key,
        n_paired=len(pairs),
        deltas=deltas,
        mcnemar=test,
        n_fixed=counts["fixed"],
        n_broken=counts["broken"],
        n_changed=counts["changed"],
        flips=flips[:max_flips],
    )

"""CI gates on a run's metrics: ``--fail-under``, ``--fail-over`` and ``--baseline``."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel

from gateway.evals.run_metrics import RunMetrics, metric_value

# Metric names accepted by --fail-under / --fail-over / --baseline, and which way is better.
GATE_METRICS: dict[str, Literal["higher", "lower"]] = {
    "accuracy": "higher",
    "macro_f1": "higher",
    "weighted_f1": "higher",
    "macro_precision": "higher",
    "macro_recall": "higher",
    "micro_f1": "higher",
    "exact_match": "higher",
    "oos_auroc": "higher",
    "none_fits_oos": "higher",
    "none_fits_in_scope": "lower",
    "auto_route_share": "higher",
    "auto_route_accuracy": "higher",
    "auto_route_accuracy_in_scope": "higher",
    "ece": "lower",
    "ece_all": "lower",
    "brier": "lower",
    "nll": "lower",
    "latency_p95_ms": "lower",
    "latency_p95_per_ticket_ms": "lower",
    "ms_per_ticket": "lower",
    "cost_usd": "lower",
    "error_rate": "lower",
}


class Gate(BaseModel):
    run: str
    metric: str
    kind: Literal["fail_under", "fail_over", "baseline", "answered"]
    bound: float
    value: float | None
    passed: bool
    message: str


def parse_gate(spec: str) -> tuple[str, float]:
    """``macro_f1=0.60`` → ("macro_f1", 0.6); unknown names are rejected early."""
    name, sep, value = spec.partition("=")
    name = name.strip()
    if not sep or name not in GATE_METRICS:
        raise ValueError(
            f"bad gate {spec!r}: expected NAME=VALUE with NAME one of {sorted(GATE_METRICS)}"
        )
    try:
        bound = float(value)
    except ValueError:
        raise ValueError(f"bad gate {spec!r}: {value!r} is not a number") from None
    return name, bound


def check_gates(
    runs: Sequence[RunMetrics],
    fail_under: Sequence[tuple[str, float]] = (),
    fail_over: Sequence[tuple[str, float]] = (),
) -> list[Gate]:
    # (kind, specs, passes, sign when passing, sign when failing)
    checks = (
        ("fail_under", fail_under, operator.ge, "≥", "<"),
        ("fail_over", fail_over, operator.le, "≤", ">"),
    )
    gates = []
    for m in runs:
        for kind, specs, passes, ok_sign, bad_sign in checks:
            for name, bound in specs:
                value = metric_value(m, name)
                passed = value is not None and passes(value, bound)
                sign = ok_sign if passed else bad_sign
                gates.append(
                    Gate(
                        run=m.key,
                        metric=name,
                        kind=kind,
                        bound=bound,
                        value=value,
                        passed=passed,
                        message=f"{name} = {_fmt(value)} {sign} {bound}",
                    )
                )
    return gates


def check_answered(runs: Sequence[RunMetrics]) -> list[Gate]:
    """A run whose tickets all failed measured nothing: a failed gate, always (no option turns
    it off), so ``rubric eval`` exits non-zero instead of reporting zeros."""
    return [
        Gate(
            run=m.key,
            metric="error_rate",
            kind="answered",
            bound=1.0,
            value=1.0,
            passed=False,
            message=m.failure(),
        )
        for m in runs
        if m.failed
    ]


BASELINE_METRICS = ("accuracy", "macro_f1", "weighted_f1", "oos_auroc", "micro_f1", "ece")


def check_baseline(
    runs: Sequence[RunMetrics],
    baseline: Sequence[RunMetrics],
    tolerance: float,
    metrics: Sequence[str] = BASELINE_METRICS,
) -> list[Gate]:
    """Fail a metric that got worse than the baseline run with the same key by > tolerance."""
    previous = {m.key: m for m in baseline}
    gates = []
    for m in runs:
        base = previous.get(m.key)
        if base is None:
            continue
        for name in metrics:
            now, before = metric_value(m, name), metric_value(base, name)
            if now is None or before is None:
                continue
            worse = before - now if GATE_METRICS[name] == "higher" else now - before
            passed = worse <= tolerance + 1e-12
            bound = before - tolerance if GATE_METRICS[name] == "higher" else before + tolerance
            gates.append(
                Gate(
                    run=m.key,
                    metric=name,
                    kind="baseline",
                    bound=bound,
                    value=now,
                    passed=passed,
                    message=(
                        f"{name} {_fmt(before)} → {_fmt(now)} "
                        f"({'within' if passed else 'beyond'} tolerance {tolerance})"
                    ),
                )
            )
    return gates


def _fmt(value: float | None) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4f}"
    )

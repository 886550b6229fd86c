"""Eval harness (DESIGN.md §6): run a suite's matrix, compute metrics, compare runs, gate CI.

The harness only needs a ``ClassifyFn`` (a batch of requests in, responses or errors out), so
tests run it with a fake and the CLI with the real ``Classifier``. It asks by rubric name and
never bypasses the classifier, so the result cache makes an interrupted run resumable.

Conventions for the numbers:
- single-label: accuracy / F1 / ECE / Brier are over *in-scope* tickets with the top label as
  the prediction (pure classification quality); out-of-scope tickets (``oos_labels``) are
  measured by AUROC of confidence and by how many the gateway marked ``none_fits``;
- routing shares are over all tickets, and an out-of-scope ticket is never "right";
- multi-label: the predicted set is the response's ``labels`` (raw ≥ the multi-fit floor).
"""

from __future__ import annotations

import asyncio
import json
import math
import operator
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from gateway.errors import GatewayError
from gateway.evals.metrics import (
    ClassMetrics,
    CoveragePoint,
    Interval,
    McNemar,
    MultiLabelMetrics,
    ReliabilityBin,
    Routing,
    accuracy_of,
    auroc,
    bootstrap_delta,
    brier_score,
    classification_metrics,
    confusion_matrix,
    coverage_curve,
    decide,
    expected_calibration_error,
    macro_f1_from_arrays,
    mcnemar,
    multilabel_metrics,
    percentile,
    reliability_bins,
    routing,
)
from gateway.evals.suite import LoadedSuite, RunSpec, Ticket
from gateway.pipeline.calibration import Calibration, apply_temperature, logits_from_scores
from gateway.rubrics.model import Thresholds
from gateway.schemas import ClassifyRequest, ClassifyResponse


class ClassifyFn(Protocol):
    """What the harness needs from a classifier: ``Classifier.classify_many`` fits."""

    async def __call__(
        self, reqs: Sequence[ClassifyRequest]
    ) -> list[ClassifyResponse | GatewayError]: ...


ProgressFn = Callable[[int], None]


# --------------------------------------------------------------------------- runs


class Prediction(BaseModel):
    """One ticket's outcome, without its text (reports may be shared; tickets may not)."""

    id: str
    gold: list[str]
    in_scope: bool
    top_label: str | None = None
    labels: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    margin: float = 0.0
    max_raw: float = 0.0
    decision: str = "manual"
    none_fits: bool = False
    multi_fit: bool = False
    scores: dict[str, float] = Field(default_factory=dict)
    raw: dict[str, float] = Field(default_factory=dict)
    latency_ms: float = 0.0
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calibration: str | None = None
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.in_scope and self.top_label is not None and self.top_label in self.gold


class RunResult(BaseModel):
    run: RunSpec
    scorer: str | None = None
    model: str | None = None
    prompt: str | None = Field(None, description="as the responses name it (None: no prompt)")
    predictions: list[Prediction]
    wall_s: float


def _prediction(ticket: Ticket, outcome: ClassifyResponse | GatewayError) -> Prediction:
    base = Prediction(id=ticket.id, gold=list(ticket.gold), in_scope=ticket.in_scope)
    if isinstance(outcome, GatewayError):
        return base.model_copy(update={"error": outcome.code})
    usage = outcome.usage
    return base.model_copy(
        update={
            "top_label": outcome.top_label,
            "labels": list(outcome.labels),
            "confidence": outcome.confidence,
            "margin": outcome.margin,
            "max_raw": max(outcome.raw.values(), default=0.0),
            "decision": outcome.decision,
            "none_fits": outcome.none_fits,
            "multi_fit": outcome.multi_fit,
            "scores": dict(outcome.scores),
            "raw": dict(outcome.raw),
            "latency_ms": outcome.latency_ms,
            "cached": outcome.cached,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "cost_usd": usage.cost_usd if usage else 0.0,
            # the response names its calibration once the gateway applies one
            "calibration": getattr(outcome, "calibration", None),
        }
    )


def build_requests(
    loaded: LoadedSuite, tickets: Sequence[Ticket], run: RunSpec
) -> list[ClassifyRequest]:
    redact = loaded.suite.redact
    return [
        ClassifyRequest(
            text=t.text,
            rubric=loaded.rubric.name,
            axes=[loaded.axis],
            prompt=run.prompt,
            model=run.model,
            redact=redact,
        )
        for t in tickets
    ]


async def run_tickets(
    loaded: LoadedSuite,
    tickets: Sequence[Ticket],
    classify: ClassifyFn,
    run: RunSpec,
    *,
    batch_size: int | None = None,
    concurrency: int | None = None,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Classify every ticket in batches, at most ``concurrency`` batches in flight.

    Batches let the local encoder pad and run many tickets at once; the bound keeps provider
    calls under their rate limits. One failing ticket is an error in its slot, not a failed run.
    """
    size = batch_size or loaded.suite.batch_size
    bound = concurrency or loaded.suite.concurrency
    requests = build_requests(loaded, tickets, run)
    slots: list[Prediction | None] = [None] * len(tickets)
    gate = asyncio.Semaphore(bound)
    scorer: str | None = None
    model: str | None = None
    prompt: str | None = None

    async def one_batch(start: int) -> None:
        nonlocal scorer, model, prompt
        chunk = requests[start : start + size]
        async with gate:
            outcomes = await classify(chunk)
        if len(outcomes) != len(chunk):
            raise RuntimeError(f"classifier returned {len(outcomes)} results for {len(chunk)}")
        for offset, outcome in enumerate(outcomes):
            slots[start + offset] = _prediction(tickets[start + offset], outcome)
            if isinstance(outcome, ClassifyResponse) and scorer is None:
                scorer, model, prompt = outcome.scorer, outcome.model, outcome.prompt
        if progress is not None:
            progress(len(chunk))

    started = time.perf_counter()
    await asyncio.gather(*(one_batch(s) for s in range(0, len(requests), size)))
    wall = time.perf_counter() - started
    return RunResult(
        run=run,
        scorer=scorer,
        model=model,
        prompt=prompt,
        predictions=[p for p in slots if p is not None],
        wall_s=wall,
    )


# --------------------------------------------------------------------------- metrics


class ConfusionMatrix(BaseModel):
    labels: list[str]
    counts: list[list[int]]


class OutOfScope(BaseModel):
    n: int
    auroc: float | None = Field(description="confidence: in-scope (positive) vs out-of-scope")
    auroc_max_raw: float | None = Field(description="the same with the best raw score")
    none_fits_recall: float = Field(description="share of out-of-scope tickets marked none_fits")
    none_fits_in_scope: float = Field(description="share of in-scope tickets marked none_fits")
    manual_recall: float = Field(description="share of out-of-scope tickets not auto-routed")


class Cost(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class Timing(BaseModel):
    wall_s: float
    tickets_per_s: float
    ms_per_ticket: float
    # a response's latency_ms is that of the batch it came in (what a batch caller waits)
    latency_p50_ms: float | None
    latency_p95_ms: float | None


class RunMetrics(ClassMetrics):
    """A run's classification metrics (``ClassMetrics``) and everything else measured of it."""

    key: str
    run: RunSpec
    scorer: str | None
    model: str | None
    calibration: str | None = None
    n: int
    n_errors: int
    n_in_scope: int
    confusion: ConfusionMatrix | None = None
    ece: float = Field(description="top-label ECE over in-scope tickets, 15 bins")
    ece_all: float | None = Field(None, description="ECE counting out-of-scope tickets as wrong")
    brier: float
    nll: float | None = None
    reliability: list[ReliabilityBin]
    thresholds: Thresholds
    routing: Routing
    coverage: list[CoveragePoint]
    oos: OutOfScope | None = None
    multilabel: MultiLabelMetrics | None = None
    timing: Timing
    cost: Cost
    cache_hits: int


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
    "auto_route_share": "higher",
    "auto_route_accuracy": "higher",
    "ece": "lower",
    "ece_all": "lower",
    "brier": "lower",
    "nll": "lower",
    "latency_p95_ms": "lower",
    "ms_per_ticket": "lower",
    "cost_usd": "lower",
    "error_rate": "lower",
}


def metric_value(m: RunMetrics, name: str) -> float | None:
    """A named scalar of a run, for gates and tables; None where the run does not have it."""
    values: dict[str, float | None] = {
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "weighted_f1": m.weighted_f1,
        "macro_precision": m.macro_precision,
        "macro_recall": m.macro_recall,
        "micro_f1": m.multilabel.micro_f1 if m.multilabel else None,
        "exact_match": m.multilabel.exact_match if m.multilabel else None,
        "oos_auroc": m.oos.auroc if m.oos else None,
        "auto_route_share": m.routing.auto_route.share,
        "auto_route_accuracy": m.routing.auto_route.accuracy,
        "ece": m.ece,
        "ece_all": m.ece_all,
        "brier": m.brier,
        "nll": m.nll,
        "latency_p95_ms": m.timing.latency_p95_ms,
        "ms_per_ticket": m.timing.ms_per_ticket,
        "cost_usd": m.cost.cost_usd,
        "error_rate": m.n_errors / m.n if m.n else 0.0,
    }
    if name not in values:
        raise KeyError(name)
    return values[name]


def _prob_matrix(preds: Sequence[Prediction], labels: Sequence[str]) -> np.ndarray:
    return np.array([[p.scores.get(name, 0.0) for name in labels] for p in preds], dtype=float)


def calibrated_predictions(
    preds: Sequence[Prediction], labels: Sequence[str], calibration: Calibration
) -> list[Prediction]:
    """Apply a calibration offline to predictions the gateway returned uncalibrated.

    Temperature scaling keeps the ranking, so only confidence, margin and the threshold part
    of the decision change; rule-forced and none_fits decisions are kept as they were.
    """
    out = []
    index = {name: i for i, name in enumerate(labels)}
    for p in preds:
        if p.error is not None or not p.scores or p.calibration is not None:
            out.append(p)
            continue
        probs = apply_temperature(
            logits_from_scores([p.scores.get(n, 0.0) for n in labels]), calibration.temperature
        )
        ordered = np.sort(probs)[::-1]
        top = p.top_label or labels[int(probs.argmax())]
        confidence = float(probs[index[top]]) if top in index else float(ordered[0])
        out.append(
            p.model_copy(
                update={
                    "scores": dict(zip(labels, probs.tolist(), strict=True)),
                    "confidence": confidence,
                    "margin": float(ordered[0] - ordered[1]) if len(ordered) > 1 else confidence,
                    "calibration": calibration.id,
                }
            )
        )
    return out


def redecide(
    preds: Sequence[Prediction], thresholds: Thresholds, calibration: Calibration | None = None
) -> list[str]:
    """Decisions after an offline calibration, as the gateway would take them: thresholds (and
    the calibration's per-label auto-route bars) on the new confidence; none_fits, rule
    escalations and errors stay; several labels fitting caps a ticket at review."""
    out = []
    for p in preds:
        if p.error is not None or p.none_fits or p.decision == "escalate":
            out.append(p.decision)
            continue
        bar = thresholds.auto_route
        if calibration is not None and p.top_label is not None:
            bar = calibration.auto_route_threshold(p.top_label, bar)
        (d,) = decide([p.confidence], bar, min(thresholds.review, bar))
        out.append("review" if d == "auto_route" and p.multi_fit else d)
    return out


def compute_metrics(
    result: RunResult,
    labels: Sequence[str],
    thresholds: Thresholds,
    *,
    multi_label: bool = False,
    decisions: Sequence[str] | None = None,
) -> RunMetrics:
    preds = result.predictions
    ok_preds = [p for p in preds if p.error is None]
    index = {name: i for i, name in enumerate(labels)}
    in_scope = [p for p in ok_preds if p.in_scope and p.gold]
    n = len(preds)

    # classification quality over in-scope tickets
    if multi_label:
        scored = [p for p in ok_preds if p.in_scope]
        y_true = np.zeros((len(scored), len(labels)), dtype=bool)
        y_pred = np.zeros_like(y_true)
        for r, p in enumerate(scored):
            for g in p.gold:
                y_true[r, index[g]] = True
            for g in p.labels:
                if g in index:
                    y_pred[r, index[g]] = True
        ml = multilabel_metrics(y_true, y_pred, labels)
        top1 = float(np.mean([p.correct for p in in_scope])) if in_scope else 0.0
        # accuracy: the top label is one of the gold labels (tickets with at least one)
        cls = ClassMetrics(
            accuracy=top1,
            macro_f1=ml.macro_f1,
            weighted_f1=ml.weighted_f1,
            macro_precision=ml.macro_precision,
            macro_recall=ml.macro_recall,
            per_label=ml.per_label,
        )
        confusion = None
    else:
        ml = None
        gold_idx = np.array([index[p.gold[0]] for p in in_scope], dtype=np.int64)
        pred_idx = np.array([index.get(p.top_label or "", -1) for p in in_scope], dtype=np.int64)
        cls = classification_metrics(gold_idx, pred_idx, labels)
        confusion = ConfusionMatrix(
            labels=list(labels),
            counts=confusion_matrix(gold_idx, pred_idx, len(labels)).tolist(),
        )

    # calibration of the top-label confidence
    conf_in = np.array([p.confidence for p in in_scope], dtype=float)
    ok_in = np.array([p.correct for p in in_scope], dtype=bool)
    ece = expected_calibration_error(conf_in, ok_in)
    has_oos = any(not p.in_scope for p in ok_preds)
    conf_all = np.array([p.confidence for p in ok_preds], dtype=float)
    ok_all = np.array([p.correct for p in ok_preds], dtype=bool)
    ece_all = expected_calibration_error(conf_all, ok_all) if has_oos else None
    nll_value: float | None = None
    if multi_label:
        brier = float(np.mean([(p.confidence - float(p.correct)) ** 2 for p in in_scope] or [0]))
    else:
        probs = _prob_matrix(in_scope, labels)
        gold_idx = np.array([index[p.gold[0]] for p in in_scope], dtype=np.int64)
        brier = brier_score(probs, gold_idx)
        if len(in_scope):
            gold_p = np.maximum(probs[np.arange(len(in_scope)), gold_idx], 1e-12)
            nll_value = float(-np.log(gold_p).mean())

    # routing over every ticket (errors go to a human)
    chosen = list(decisions) if decisions is not None else [p.decision for p in preds]
    chosen = [d if p.error is None else "manual" for p, d in zip(preds, chosen, strict=True)]
    route = routing(chosen, [p.correct for p in preds])

    oos = None
    if has_oos:
        positive = np.array([p.in_scope for p in ok_preds], dtype=bool)
        out_scope = [p for p in ok_preds if not p.in_scope]
        in_all = [p for p in ok_preds if p.in_scope]
        kept = {id(p) for p, d in zip(preds, chosen, strict=True) if d == "auto_route"}
        oos = OutOfScope(
            n=len(out_scope),
            auroc=auroc(conf_all, positive),
            auroc_max_raw=auroc([p.max_raw for p in ok_preds], positive),
            none_fits_recall=float(np.mean([p.none_fits for p in out_scope])),
            none_fits_in_scope=float(np.mean([p.none_fits for p in in_all])) if in_all else 0.0,
            manual_recall=float(np.mean([id(p) not in kept for p in out_scope])),
        )

    latencies = [p.latency_ms for p in ok_preds]
    wall = max(result.wall_s, 1e-9)
    calibrations = {p.calibration for p in ok_preds}
    return RunMetrics(
        key=result.run.key,
        run=result.run,
        scorer=result.scorer,
        model=result.model,
        calibration=next(iter(calibrations)) if len(calibrations) == 1 else None,
        n=n,
        n_errors=n - len(ok_preds),
        n_in_scope=len(in_scope),
        **dict(cls),
        confusion=confusion,
        ece=ece,
        ece_all=ece_all,
        brier=brier,
        nll=nll_value,
        reliability=reliability_bins(conf_in, ok_in),
        thresholds=thresholds,
        routing=route,
        coverage=coverage_curve(conf_all, ok_all),
        oos=oos,
        multilabel=ml,
        timing=Timing(
            wall_s=result.wall_s,
            tickets_per_s=n / wall,
            ms_per_ticket=1000.0 * wall / n if n else 0.0,
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
        ),
        cost=Cost(
            prompt_tokens=sum(p.prompt_tokens for p in ok_preds),
            completion_tokens=sum(p.completion_tokens for p in ok_preds),
            cost_usd=sum(p.cost_usd for p in ok_preds),
        ),
        cache_hits=sum(p.cached for p in ok_preds),
    )


# --------------------------------------------------------------------------- comparison


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


# --------------------------------------------------------------------------- gates


class Gate(BaseModel):
    run: str
    metric: str
    kind: Literal["fail_under", "fail_over", "baseline"]
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


# --------------------------------------------------------------------------- report model


class DatasetInfo(BaseModel):
    split: str
    path: str
    n: int
    licence: str
    attribution: str
    sample_size: int | None
    seed: int


class RubricInfo(BaseModel):
    name: str
    path: str
    fingerprint: str
    axis: str
    labels: int


class SuiteReport(BaseModel):
    """metrics.json: everything a later run needs to compare against this one."""

    suite: str
    suite_path: str
    created_at: str
    dataset: DatasetInfo
    rubric: RubricInfo
    runs: list[RunMetrics]
    comparisons: list[Comparison] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def read_report(path: Path) -> SuiteReport:
    """A previous report, from its directory or its metrics.json."""
    file = path / "metrics.json" if path.is_dir() else path
    return SuiteReport.model_validate_json(file.read_bytes())


def predictions_file(report_dir: Path, run: RunSpec) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._+@~-]+", "_", run.key)
    return report_dir / f"predictions-{safe}.jsonl"


def write_predictions(report_dir: Path, result: RunResult) -> Path:
    """Per-ticket outcomes without text: what --baseline needs for a paired comparison."""
    path = predictions_file(report_dir, result.run)
    with path.open("w", encoding="utf-8") as fh:
        for p in result.predictions:
            top = dict(sorted(p.scores.items(), key=lambda kv: -kv[1])[:5])
            slim = p.model_copy(update={"scores": top, "raw": {}})
            fh.write(slim.model_dump_json() + "\n")
    return path


def read_predictions(report_dir: Path, run: RunSpec) -> RunResult | None:
    path = predictions_file(report_dir, run)
    if not path.is_file():
        return None
    preds = [
        Prediction.model_validate(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return RunResult(run=run, predictions=preds, wall_s=0.0)

"""A run's metrics (DESIGN.md §6): ``compute_metrics`` turns a ``RunResult`` into ``RunMetrics``.

Conventions for the numbers:
- single-label: accuracy / F1 / ECE / Brier are over *in-scope* tickets with the top label as
  the prediction (pure classification quality); out-of-scope tickets (``oos_labels``) are
  measured by AUROC of confidence and by how many the gateway marked ``none_fits``;
- routing shares are over all tickets, and an out-of-scope ticket is never "right": auto-routed
  accuracy counts an auto-routed out-of-scope ticket as wrong (``OutOfScope`` gives the
  in-scope figure beside it);
- latency: a response's ``latency_ms`` is that of the classify call it came in (a batch);
  per ticket it is that divided by the tickets in the call;
- multi-label: the predicted set is the response's ``labels`` (raw ≥ the multi-fit floor).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from gateway.evals.confidence import (
    CoveragePoint,
    ReliabilityBin,
    auroc,
    brier_score,
    coverage_curve,
    expected_calibration_error,
    reliability_bins,
)
from gateway.evals.metrics import (
    ClassMetrics,
    MultiLabelMetrics,
    Routing,
    classification_metrics,
    confusion_matrix,
    multilabel_metrics,
    percentile,
    routing,
)
from gateway.evals.predictions import Prediction, RunResult
from gateway.evals.suite import RunSpec
from gateway.rubrics import Thresholds


class ConfusionMatrix(BaseModel):
    labels: list[str]
    counts: list[list[int]]


class OutOfScope(BaseModel):
    n: int
    auroc: float | None = Field(description="confidence: in-scope (positive) vs out-of-scope")
    auroc_max_raw: float | None = Field(description="the same by Prediction.none_fits_signal")
    none_fits_recall: float = Field(description="share of out-of-scope tickets marked none_fits")
    none_fits_in_scope: float = Field(description="share of in-scope tickets marked none_fits")
    manual_recall: float = Field(description="share of out-of-scope tickets not auto-routed")
    auto_routed: int = Field(0, description="out-of-scope tickets auto-routed (all wrong)")
    auto_route_accuracy_in_scope: float | None = Field(
        None, description="accuracy of the auto-routed in-scope tickets"
    )


class Cost(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class Timing(BaseModel):
    wall_s: float
    tickets_per_s: float
    ms_per_ticket: float
    # per call: a response's latency_ms is that of the classify call (a batch of up to
    # ``tickets_per_call`` tickets) it came in, what a batch caller waits
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    # per ticket: each ticket's call latency divided by the tickets in that call
    latency_p95_per_ticket_ms: float | None = None
    tickets_per_call: int | None = None


class RunMetrics(ClassMetrics):
    """A run's classification metrics (``ClassMetrics``) and everything else measured of it."""

    key: str
    run: RunSpec
    scorer: str | None
    model: str | None
    calibration: str | None = None
    n: int
    n_errors: int
    errors: dict[str, int] = Field(default_factory=dict, description="tickets per error code")
    error_messages: dict[str, str] = Field(
        default_factory=dict, description="error code -> its first message"
    )
    n_in_scope: int
    gold_labels: int | None = Field(
        None, description="labels with gold tickets in the set: what macro averages run over"
    )
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

    @property
    def failed(self) -> bool:
        """Every ticket of the run failed: it measured nothing (its numbers are not zeros)."""
        return self.n > 0 and self.n_errors == self.n

    def failure(self) -> str:
        """What a failed run says: how many tickets failed, with which errors."""
        counts = ", ".join(f"{code} ×{n}" for code, n in sorted(self.errors.items()))
        first = "; ".join(f"{code}: {msg}" for code, msg in sorted(self.error_messages.items()))
        return f"every ticket failed ({self.n_errors}/{self.n}: {counts})" + (
            f"; {first}" if first else ""
        )


# what a run that answered no ticket still reports: how it failed, and what it took
_MEASURED_WHEN_FAILED = frozenset({"error_rate", "ms_per_ticket", "cost_usd"})


def metric_value(m: RunMetrics, name: str) -> float | None:
    """A named scalar of a run, for gates and tables; None where the run does not have it
    (every quality metric of a run whose tickets all failed)."""
    values: dict[str, float | None] = {
        "accuracy": m.accuracy,
        "macro_f1": m.macro_f1,
        "weighted_f1": m.weighted_f1,
        "macro_precision": m.macro_precision,
        "macro_recall": m.macro_recall,
        "micro_f1": m.multilabel.micro_f1 if m.multilabel else None,
        "exact_match": m.multilabel.exact_match if m.multilabel else None,
        # ranked by the best raw score, the signal none_fits is decided on (bench/out_of_scope.py:
        # it ranks CLINC150's out-of-scope queries better than confidence does)
        "oos_auroc": m.oos.auroc_max_raw if m.oos else None,
        "oos_auroc_confidence": m.oos.auroc if m.oos else None,
        "none_fits_oos": m.oos.none_fits_recall if m.oos else None,
        "none_fits_in_scope": m.oos.none_fits_in_scope if m.oos else None,
        "auto_route_share": m.routing.auto_route.share,
        "auto_route_accuracy": m.routing.auto_route.accuracy,
        "auto_route_accuracy_in_scope": m.oos.auto_route_accuracy_in_scope if m.oos else None,
        "ece": m.ece,
        "ece_all": m.ece_all,
        "brier": m.brier,
        "nll": m.nll,
        "latency_p95_ms": m.timing.latency_p95_ms,
        "latency_p95_per_ticket_ms": m.timing.latency_p95_per_ticket_ms,
        "ms_per_ticket": m.timing.ms_per_ticket,
        "cost_usd": m.cost.cost_usd,
        "error_rate": m.n_errors / m.n if m.n else 0.0,
    }
    if name not in values:
        raise KeyError(name)
    if m.failed and name not in _MEASURED_WHEN_FAILED:
        return None
    return values[name]


def _prob_matrix(preds: Sequence[Prediction], labels: Sequence[str]) -> np.ndarray:
    return np.array([[p.scores.get(name, 0.0) for name in labels] for p in preds], dtype=float)


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
        routed_in = [p.correct for p in in_all if id(p) in kept]
        oos = OutOfScope(
            n=len(out_scope),
            auroc=auroc(conf_all, positive),
            auroc_max_raw=auroc([p.none_fits_signal for p in ok_preds], positive),
            none_fits_recall=float(np.mean([p.none_fits for p in out_scope])),
            none_fits_in_scope=float(np.mean([p.none_fits for p in in_all])) if in_all else 0.0,
            manual_recall=float(np.mean([id(p) not in kept for p in out_scope])),
            auto_routed=sum(id(p) in kept for p in out_scope),
            auto_route_accuracy_in_scope=float(np.mean(routed_in)) if routed_in else None,
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
        errors=dict(Counter(p.error for p in preds if p.error is not None)),
        error_messages=dict(result.error_messages),
        n_in_scope=len(in_scope),
        gold_labels=len({g for p in in_scope for g in p.gold}),
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
            latency_p95_per_ticket_ms=percentile(
                [p.latency_ms / p.batch_size for p in ok_preds], 95
            ),
            tickets_per_call=max((p.batch_size for p in ok_preds), default=None),
        ),
        cost=Cost(
            prompt_tokens=sum(p.prompt_tokens for p in ok_preds),
            completion_tokens=sum(p.completion_tokens for p in ok_preds),
            cost_usd=sum(p.cost_usd for p in ok_preds),
        ),
        cache_hits=sum(p.cached for p in ok_preds),
    )

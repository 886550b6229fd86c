"""Orchestration of the eval commands: a suite's matrix, calibration and threshold advice.

Everything here takes a ``ClassifierFactory`` (run spec → classify function), so tests drive it
with fakes and the CLI with ``real_factory``, which builds the gateway's own ``Classifier``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel

from gateway.evals.harness import (
    ClassifyFn,
    Comparison,
    DatasetInfo,
    Gate,
    Prediction,
    ProgressFn,
    RubricInfo,
    RunMetrics,
    RunResult,
    SuiteReport,
    calibrated_predictions,
    check_baseline,
    check_gates,
    compare_runs,
    compute_metrics,
    read_predictions,
    read_report,
    redecide,
    run_tickets,
)
from gateway.evals.metrics import (
    brier_score,
    expected_calibration_error,
    threshold_for_precision,
)
from gateway.evals.suite import LoadedSuite, RunSpec, Ticket
from gateway.pipeline.calibration import (
    Calibration,
    CalibrationKey,
    FitReport,
    apply_temperature,
    fit_temperature,
    fit_temperature_to_confidence,
    label_thresholds,
    load_calibration,
    logits_from_scores,
    save_calibration,
    set_nll,
)
from gateway.rubrics.model import Thresholds


class ClassifierFactory(Protocol):
    """Builds the classify function for one run; a context manager so caches get closed."""

    def __call__(
        self, loaded: LoadedSuite, run: RunSpec, *, cache: bool
    ) -> AbstractContextManager[ClassifyFn]: ...


ProgressFactory = Callable[[str, int], AbstractContextManager[ProgressFn]]


@contextmanager
def _no_progress(description: str, total: int) -> Iterator[ProgressFn]:
    yield lambda n: None


@contextmanager
def real_factory(loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
    """The gateway's own Classifier, configured for one run of the matrix.

    Rubrics come from the suite rubric's directory; the scorer/model/prompt are the run's, so
    requests carry no overrides. redact=false in a suite is allowed here (and only here).
    """
    from gateway.config import get_settings
    from gateway.server.app import build_classifier

    base = get_settings()
    scoring: dict[str, object] = {"scorer": run.scorer}
    if run.prompt is not None:
        scoring["prompt"] = run.prompt
    settings = base.replace(
        rubrics=base.rubrics.model_copy(
            update={"dir": loaded.rubric_path.parent, "reload_interval_s": 3600.0}
        ),
        scoring=base.scoring.model_copy(update=scoring),
        provider=base.provider.model_copy(update={"model": run.model or base.provider.model}),
        cache=base.cache.model_copy(update={"enabled": cache and base.cache.enabled}),
        # redact=false in a suite is allowed here (and only here)
        redaction=base.redaction.model_copy(
            update={
                "allow_unredacted": base.redaction.allow_unredacted or loaded.suite.redact is False
            }
        ),
    )
    classifier = build_classifier(settings)
    try:
        yield classifier.classify_many
    finally:
        if classifier.cache is not None:
            classifier.cache.close()


class EvalOptions(BaseModel):
    sample: int | None = None
    seed: int | None = None
    split: str | None = None
    cache: bool = True
    batch_size: int | None = None
    concurrency: int | None = None
    apply_calibration: bool = True
    fail_under: list[tuple[str, float]] = []
    fail_over: list[tuple[str, float]] = []
    baseline: Path | None = None
    tolerance: float = 0.01
    show_text: bool = False
    bootstrap: int = 1000


def _concurrency(run: RunSpec, options: EvalOptions, loaded: LoadedSuite) -> int:
    if options.concurrency:
        return options.concurrency
    # the embedded model already uses every core per batch; overlapping batches only contend
    return 1 if run.scorer == "local" else loaded.suite.concurrency


def run_one(
    loaded: LoadedSuite,
    tickets: Sequence[Ticket],
    run: RunSpec,
    factory: ClassifierFactory,
    options: EvalOptions,
    progress: ProgressFactory | None = None,
    label: str = "",
) -> RunResult:
    with (
        factory(loaded, run, cache=options.cache) as classify,
        (progress or _no_progress)(label or run.key, len(tickets)) as advance,
    ):
        return asyncio.run(
            run_tickets(
                loaded,
                tickets,
                classify,
                run,
                batch_size=options.batch_size,
                concurrency=_concurrency(run, options, loaded),
                progress=advance,
            )
        )


def _stored_calibration(loaded: LoadedSuite, result: RunResult) -> Calibration | None:
    if result.scorer is None or result.model is None:
        return None
    return load_calibration(
        loaded.rubric_path,
        loaded.rubric.fingerprint,
        result.scorer,
        result.model,
        result.prompt,
        loaded.axis,
    )


def evaluate_suite(
    loaded: LoadedSuite,
    factory: ClassifierFactory,
    options: EvalOptions,
    progress: ProgressFactory | None = None,
) -> tuple[SuiteReport, list[RunResult]]:
    """Run the matrix, add offline-calibrated variants where a stored calibration exists and the
    gateway did not apply it, compare every run with the first, and check the gates."""
    split = options.split or loaded.suite.split
    tickets = loaded.tickets(split, options.sample, options.seed)
    labels = loaded.labels
    thresholds = loaded.rubric.thresholds_for(loaded.axis)
    results: list[RunResult] = []
    metrics: list[RunMetrics] = []
    for run in loaded.runs():
        result = run_one(loaded, tickets, run, factory, options, progress)
        results.append(result)
        metrics.append(compute_metrics(result, labels, thresholds, multi_label=loaded.multi_label))
        calibration = _stored_calibration(loaded, result) if options.apply_calibration else None
        already = any(p.calibration for p in result.predictions)
        if calibration is not None and not already:
            preds = calibrated_predictions(result.predictions, labels, calibration)
            cal_run = run.model_copy(update={"variant": "cal"})
            cal_result = result.model_copy(update={"run": cal_run, "predictions": preds})
            results.append(cal_result)
            metrics.append(
                compute_metrics(
                    cal_result,
                    labels,
                    thresholds,
                    multi_label=loaded.multi_label,
                    decisions=redecide(preds, thresholds, calibration),
                )
            )
    texts = (
        {t.id: t.text for t in tickets}
        if options.show_text and loaded.suite.dataset.share_text
        else None
    )
    comparisons: list[Comparison] = [
        compare_runs(
            results[0], r, labels, metrics[0], m, texts=texts, n_resamples=options.bootstrap
        )
        for r, m in zip(results[1:], metrics[1:], strict=True)
    ]
    gates: list[Gate] = check_gates(metrics, options.fail_under, options.fail_over)
    if options.baseline is not None:
        previous = read_report(options.baseline)
        gates += check_baseline(metrics, previous.runs, options.tolerance)
        base_dir = options.baseline if options.baseline.is_dir() else options.baseline.parent
        for old in previous.runs:
            stored = read_predictions(base_dir, old.run)
            match = next((i for i, m in enumerate(metrics) if m.key == old.key), None)
            if stored is not None and match is not None:
                comparisons.append(
                    compare_runs(
                        stored.model_copy(
                            update={"run": old.run.model_copy(update={"variant": "baseline"})}
                        ),
                        results[match],
                        labels,
                        old,
                        metrics[match],
                        texts=texts,
                        n_resamples=options.bootstrap,
                    )
                )
    sample = options.sample if options.sample is not None else loaded.suite.sample.size
    report = SuiteReport(
        suite=loaded.suite.name,
        suite_path=str(loaded.path),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dataset=DatasetInfo(
            split=split,
            path=str(loaded.split_path(split)),
            n=len(tickets),
            licence=loaded.suite.dataset.licence,
            attribution=loaded.suite.dataset.attribution,
            sample_size=sample,
            seed=options.seed if options.seed is not None else loaded.suite.sample.seed,
        ),
        rubric=RubricInfo(
            name=loaded.rubric.name,
            path=str(loaded.rubric_path),
            fingerprint=loaded.rubric.fingerprint,
            axis=loaded.axis,
            labels=len(labels),
        ),
        runs=metrics,
        comparisons=comparisons,
        gates=gates,
    )
    return report, results


# --------------------------------------------------------------------------- calibration


class ConfidenceSet(BaseModel):
    """Arrays the calibration code needs, pulled out of predictions once."""

    model_config = {"arbitrary_types_allowed": True}

    logits: np.ndarray
    gold: np.ndarray  # bool (n, k); all-False rows are out of scope
    top: list[str]


def confidence_set(preds: Sequence[Prediction], labels: Sequence[str]) -> ConfidenceSet:
    ok = [p for p in preds if p.error is None and p.scores]
    index = {name: i for i, name in enumerate(labels)}
    logits = logits_from_scores([[p.scores.get(n, 0.0) for n in labels] for p in ok])
    gold = np.zeros((len(ok), len(labels)), dtype=bool)
    for r, p in enumerate(ok):
        if p.in_scope:
            for g in p.gold:
                gold[r, index[g]] = True
    top = [labels[int(i)] for i in logits.argmax(axis=1)] if len(ok) else []
    return ConfidenceSet(logits=logits.reshape(len(ok), len(labels)), gold=gold, top=top)


class CalibrationStats(BaseModel):
    n: int
    nll: float
    ece: float
    ece_all: float | None
    brier: float
    accuracy: float


def calibration_stats(cs: ConfidenceSet, temperature: float) -> CalibrationStats:
    probs = apply_temperature(cs.logits, temperature) if len(cs.top) else cs.logits
    top = probs.argmax(axis=1) if len(cs.top) else np.zeros(0, dtype=int)
    conf = probs.max(axis=1) if len(cs.top) else np.zeros(0)
    correct = cs.gold[np.arange(len(top)), top] if len(cs.top) else np.zeros(0, dtype=bool)
    scoped = cs.gold.any(axis=1)
    single = cs.gold.sum(axis=1) == 1
    gold_idx = cs.gold[single].argmax(axis=1)
    has_oos = bool((~scoped).any())
    return CalibrationStats(
        n=int(scoped.sum()),
        nll=set_nll(cs.logits[scoped], cs.gold[scoped], temperature) if scoped.any() else 0.0,
        ece=expected_calibration_error(conf[scoped], correct[scoped]),
        ece_all=expected_calibration_error(conf, correct) if has_oos else None,
        brier=brier_score(probs[single], gold_idx),
        accuracy=float(correct[scoped].mean()) if scoped.any() else 0.0,
    )


class CalibrationOutcome(BaseModel):
    run: str
    calibration: Calibration
    fit_before: CalibrationStats
    fit_after: CalibrationStats
    heldout_before: CalibrationStats
    heldout_after: CalibrationStats
    written_to: Path | None = None


def _uncalibrated(
    preds: Sequence[Prediction], labels: Sequence[str], current: Calibration | None
) -> list[Prediction]:
    """Undo the gateway's own calibration (t0), so a refit starts from the scorer's scores."""
    if current is None or not any(p.calibration == current.id for p in preds):
        return list(preds)
    undo = Calibration(key=current.key, temperature=1.0 / current.temperature)
    return [
        p.model_copy(
            update={
                "scores": undo.apply({n: p.scores.get(n, 0.0) for n in labels}),
                "calibration": None,
            }
        )
        if p.calibration == current.id
        else p
        for p in preds
    ]


def _without_rubric_examples(loaded: LoadedSuite, tickets: list[Ticket]) -> list[Ticket]:
    """Few-shot rubrics carry train utterances as examples; those score as near-certain
    matches, so fitting on them would make the calibration overconfident."""
    examples = loaded.rubric_examples()
    if not examples:
        return tickets
    return [t for t in tickets if " ".join(t.text.split()).lower() not in examples]


def calibrate_suite(
    loaded: LoadedSuite,
    factory: ClassifierFactory,
    options: EvalOptions,
    *,
    precision: float | None = None,
    objective: Literal["confidence", "nll"] = "confidence",
    per_label: bool = False,
    write: bool = True,
    progress: ProgressFactory | None = None,
) -> list[CalibrationOutcome]:
    """Fit a temperature on the suite's calibration split (and, with ``per_label``, each
    label's auto-route bar for a target precision); report NLL/ECE/Brier before and after on
    the held-out split.

    ``objective="confidence"`` (default) fits the top-label confidence to correctness, which is
    what routing thresholds and ECE look at; ``"nll"`` is classic temperature scaling (gold-label
    likelihood). Per-label bars are off by default: with tens of tickets per label they are
    noisy, and on CLINC150 they let auto-routed accuracy fall from 0.97 to 0.90 on test."""
    spec = loaded.suite.calibration
    if spec is None:
        raise ValueError(f"suite {loaded.suite.name!r} has no 'calibration:' section")
    target = precision if precision is not None else spec.target_precision
    heldout_split = spec.heldout_split or loaded.suite.split
    fit_tickets = _without_rubric_examples(loaded, loaded.tickets(spec.split, spec.size, spec.seed))
    held_tickets = loaded.tickets(
        heldout_split,
        options.sample if options.sample is not None else loaded.suite.sample.size,
        options.seed,
    )
    overlap = {t.text for t in fit_tickets} & {t.text for t in held_tickets}
    labels = loaded.labels
    outcomes = []
    for run in loaded.runs():
        fit_run = run_one(loaded, fit_tickets, run, factory, options, progress, f"{run.key} fit")
        held_run = run_one(
            loaded, held_tickets, run, factory, options, progress, f"{run.key} held-out"
        )
        if fit_run.scorer is None or fit_run.model is None:
            raise RuntimeError(f"run {run.key}: every ticket failed; nothing to calibrate")
        key = CalibrationKey(
            fingerprint=loaded.rubric.fingerprint,
            scorer=fit_run.scorer,
            model=fit_run.model,
            # the prompt the scorer used, as the gateway will look it up (None: embedded model)
            prompt=fit_run.prompt,
            axis=loaded.axis,
        )
        current = _stored_calibration(loaded, fit_run)
        fit_cs = confidence_set(_uncalibrated(fit_run.predictions, labels, current), labels)
        held_cs = confidence_set(_uncalibrated(held_run.predictions, labels, current), labels)
        correct = fit_cs.gold[np.arange(len(fit_cs.top)), fit_cs.logits.argmax(axis=1)]
        # Fitted on in-scope tickets only: confidence then reads as P(top label right | some
        # label applies), the headline ECE. Out-of-scope is the none_fits floor's job, and a
        # calibration split's out-of-scope rate rarely matches traffic (CLINC150: 3% in val,
        # 17.5% in test).
        scoped = fit_cs.gold.any(axis=1)
        if objective == "nll":
            temperature = fit_temperature(fit_cs.logits[scoped], fit_cs.gold[scoped])
        else:
            temperature = fit_temperature_to_confidence(fit_cs.logits[scoped], correct[scoped])
        conf = apply_temperature(fit_cs.logits, temperature).max(axis=1)
        bars = (
            label_thresholds(conf, fit_cs.top, correct, target, min_count=20) if per_label else {}
        )
        stats = {
            name: calibration_stats(cs, t)
            for name, cs, t in (
                ("fit_before", fit_cs, 1.0),
                ("fit_after", fit_cs, temperature),
                ("held_before", held_cs, 1.0),
                ("held_after", held_cs, temperature),
            )
        }
        calibration = Calibration(
            key=key,
            temperature=round(temperature, 6),
            objective=objective,
            label_thresholds=bars,
            target_precision=target if per_label else None,
            report=FitReport(
                suite=loaded.suite.name,
                fit_split=f"{spec.split} (n={len(fit_tickets)}, seed {spec.seed})",
                heldout_split=f"{heldout_split} (n={len(held_tickets)}"
                + (f", {len(overlap)} texts also in the fit split)" if overlap else ")"),
                n_fit=stats["fit_before"].n,
                n_heldout=stats["held_before"].n,
                nll_before=stats["held_before"].nll,
                nll_after=stats["held_after"].nll,
                ece_before=stats["held_before"].ece,
                ece_after=stats["held_after"].ece,
                ece_all_before=stats["held_before"].ece_all,
                ece_all_after=stats["held_after"].ece_all,
                brier_before=stats["held_before"].brier,
                brier_after=stats["held_after"].brier,
            ),
        )
        written = save_calibration(loaded.rubric_path, calibration) if write else None
        outcomes.append(
            CalibrationOutcome(
                run=run.key,
                calibration=calibration,
                fit_before=stats["fit_before"],
                fit_after=stats["fit_after"],
                heldout_before=stats["held_before"],
                heldout_after=stats["held_after"],
                written_to=written,
            )
        )
    return outcomes


# --------------------------------------------------------------------------- thresholds


class ThresholdRow(BaseModel):
    threshold: float
    coverage: float
    accuracy: float | None


class ThresholdAdvice(BaseModel):
    run: str
    split: str
    n: int
    calibration: str | None
    precision: float
    review_precision: float
    auto_route: float | None
    review: float | None
    auto_route_coverage: float
    review_coverage: float
    current: Thresholds
    curve: list[ThresholdRow]


def recommend_thresholds(
    loaded: LoadedSuite,
    factory: ClassifierFactory,
    options: EvalOptions,
    *,
    precision: float,
    review_precision: float,
    progress: ProgressFactory | None = None,
) -> list[ThresholdAdvice]:
    """auto_route: the lowest confidence at which the tickets the gateway would auto-route are
    right ``precision`` of the time; review: the same for ``review_precision`` over the tickets
    it would review or auto-route (below it a human starts from scratch). Coverage is a share
    of all tickets, and the curve lists, per threshold, the auto-routed share and accuracy.
    Measured on the calibration split when the suite has one (not the test split),
    on calibrated confidences when a calibration is stored."""
    spec = loaded.suite.calibration
    split = options.split or (spec.split if spec else loaded.suite.split)
    size = options.sample if options.sample is not None else (spec.size if spec else None)
    seed = options.seed if options.seed is not None else (spec.seed if spec else None)
    tickets = _without_rubric_examples(loaded, loaded.tickets(split, size, seed))
    labels = loaded.labels
    out = []
    for run in loaded.runs():
        result = run_one(loaded, tickets, run, factory, options, progress)
        preds = [p for p in result.predictions if p.error is None]
        calibration = _stored_calibration(loaded, result) if options.apply_calibration else None
        if calibration is not None and not any(p.calibration for p in preds):
            preds = calibrated_predictions(preds, labels, calibration)
        conf = np.array([p.confidence for p in preds], dtype=float)
        correct = np.array([p.correct for p in preds], dtype=bool)
        # what the thresholds can act on, as the gateway decides: none_fits goes to a human
        # and rule escalations stay whatever the score; several labels fitting caps at review
        reviewable = np.array([not p.none_fits and p.decision != "escalate" for p in preds])
        routable = reviewable & np.array([not p.multi_fit for p in preds], dtype=bool)
        n = max(len(preds), 1)

        auto = threshold_for_precision(conf[routable], correct[routable], precision, min_count=10)
        review = threshold_for_precision(
            conf[reviewable], correct[reviewable], review_precision, min_count=10
        )
        if auto is not None and review is not None:
            review = min(review, auto)
        grid = sorted(
            {round(x, 2) for x in np.linspace(0.05, 1.0, 20).tolist()}
            | ({auto} if auto else set())
            | ({review} if review else set())
        )
        curve = []
        for t in grid:
            kept = routable & (conf >= t)
            curve.append(
                ThresholdRow(
                    threshold=t,
                    coverage=float(kept.sum()) / n,
                    accuracy=float(correct[kept].mean()) if kept.any() else None,
                )
            )
        out.append(
            ThresholdAdvice(
                run=run.key,
                split=split,
                n=len(preds),
                calibration=calibration.id
                if calibration
                else next((p.calibration for p in preds if p.calibration), None),
                precision=precision,
                review_precision=review_precision,
                auto_route=auto,
                review=review,
                auto_route_coverage=float((routable & (conf >= auto)).sum()) / n
                if auto is not None
                else 0.0,
                review_coverage=float((reviewable & (conf >= review)).sum()) / n
                if review is not None
                else 0.0,
                current=loaded.rubric.thresholds_for(loaded.axis),
                curve=curve,
            )
        )
    return out


__all__ = [
    "CalibrationOutcome",
    "ClassifierFactory",
    "EvalOptions",
    "ThresholdAdvice",
    "calibrate_suite",
    "evaluate_suite",
    "real_factory",
    "recommend_thresholds",
]

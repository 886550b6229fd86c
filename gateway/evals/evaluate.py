"""``rubric eval``: a suite's matrix run, measured, compared with its first run (and a
baseline report), gated, and gathered into a ``SuiteReport``."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.evals.comparison import Comparison, compare_runs
from gateway.evals.gates import Gate, check_baseline, check_gates
from gateway.evals.loading import LoadedSuite
from gateway.evals.predictions import RunResult, read_predictions
from gateway.evals.redecision import calibrated_predictions
from gateway.evals.run_metrics import RunMetrics, compute_metrics
from gateway.evals.runner import (
    ClassifierFactory,
    EvalOptions,
    ProgressFactory,
    decision_floors,
    run_one,
    stored_calibration,
)
from gateway.evals.suite_report import DatasetInfo, SuiteReport, SuiteRubric, read_report


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
        calibration = stored_calibration(loaded, result) if options.apply_calibration else None
        already = any(p.calibration for p in result.predictions)
        if calibration is not None and not already:
            preds = calibrated_predictions(
                result.predictions,
                labels,
                calibration,
                axis=loaded.axis,
                thresholds=thresholds,
                floors=decision_floors(options),
            )
            cal_run = run.model_copy(update={"variant": "cal"})
            cal_result = result.model_copy(update={"run": cal_run, "predictions": preds})
            results.append(cal_result)
            metrics.append(
                compute_metrics(cal_result, labels, thresholds, multi_label=loaded.multi_label)
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
        rubric=SuiteRubric(
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

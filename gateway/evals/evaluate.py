"""``rubric eval``: a suite's matrix run, measured, compared with its first run (and a
baseline report), gated, and gathered into a ``SuiteReport``.

Every run is reported uncalibrated (the scorer's own distribution, as the harness's classifier
asks for no calibration); where a calibration is stored for the run (beside the rubric, or in
``--calibration FILE``), a ``+cal`` run beside it has the same responses with it applied
offline. So one eval gives the numbers before and after, and the report names the calibration
each number used (``CalibrationInfo``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.evals.comparison import Comparison, compare_runs
from gateway.evals.gates import Gate, check_answered, check_baseline, check_gates
from gateway.evals.loading import LoadedSuite
from gateway.evals.predictions import RunResult, read_predictions
from gateway.evals.redecision import calibrated_predictions, uncalibrated_predictions
from gateway.evals.run_metrics import RunMetrics, compute_metrics
from gateway.evals.runner import (
    ClassifierFactory,
    EvalOptions,
    ProgressFactory,
    decision_floors,
    known_calibrations,
    run_one,
    stored_calibration,
)
from gateway.evals.suite import Ticket
from gateway.evals.suite_report import (
    CalibrationInfo,
    CalibrationUsed,
    DatasetInfo,
    SuiteReport,
    SuiteRubric,
    read_report,
)
from gateway.pipeline import Calibration, calibration_path


def _used(calibration: Calibration, run: str, file: str) -> CalibrationUsed:
    fit = calibration.report
    return CalibrationUsed(
        id=calibration.id,
        runs=[run],
        file=file,
        temperature=calibration.temperature,
        objective=calibration.objective,
        label_thresholds=len(calibration.label_thresholds),
        none_fits_floor=calibration.none_fits_floor,
        fitted_on=f"{fit.suite}: {fit.fit_split}" if fit else None,
        fitted_at=fit.fitted_at if fit else None,
    )


def _baseline_comparisons(
    options: EvalOptions,
    previous: SuiteReport,
    results: list[RunResult],
    metrics: list[RunMetrics],
    labels: list[str],
    texts: dict[str, str] | None,
) -> list[Comparison]:
    assert options.baseline is not None
    base_dir = options.baseline if options.baseline.is_dir() else options.baseline.parent
    out = []
    for old in previous.runs:
        stored = read_predictions(base_dir, old.run)
        match = next((i for i, m in enumerate(metrics) if m.key == old.key), None)
        if stored is not None and match is not None and not metrics[match].failed:
            out.append(
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
    return out


def evaluate_suite(
    loaded: LoadedSuite,
    factory: ClassifierFactory,
    options: EvalOptions,
    progress: ProgressFactory | None = None,
) -> tuple[SuiteReport, list[RunResult]]:
    """Run the matrix: each run uncalibrated, and calibrated beside it where a calibration is
    stored for it (unless ``apply_calibration`` is off); compare every run with the first, and
    check the gates."""
    split = options.split or loaded.suite.split
    tickets: list[Ticket] = loaded.tickets(split, options.sample, options.seed, options.stratify)
    labels = loaded.labels
    thresholds = loaded.rubric.thresholds_for(loaded.axis)
    floors = decision_floors(options)
    file = options.calibration_file or calibration_path(loaded.rubric_path)
    info = CalibrationInfo(applied=options.apply_calibration, file=str(file))
    results: list[RunResult] = []
    metrics: list[RunMetrics] = []

    def add(result: RunResult) -> None:
        results.append(result)
        metrics.append(compute_metrics(result, labels, thresholds, multi_label=loaded.multi_label))

    for run in loaded.runs():
        answered = run_one(loaded, tickets, run, factory, options, progress)
        plain = uncalibrated_predictions(
            answered.predictions,
            labels,
            known_calibrations(loaded, answered, options.calibration_file),
            axis=loaded.axis,
            thresholds=thresholds,
            floors=floors,
        )
        add(answered.model_copy(update={"predictions": plain}))
        if not options.apply_calibration:
            continue
        calibration = stored_calibration(loaded, answered, options.calibration_file)
        if calibration is None:
            info.missing.append(run.key)
            continue
        cal_run = run.model_copy(update={"variant": "cal"})
        preds = calibrated_predictions(
            plain, labels, calibration, axis=loaded.axis, thresholds=thresholds, floors=floors
        )
        add(answered.model_copy(update={"run": cal_run, "predictions": preds}))
        seen = next((u for u in info.used if u.id == calibration.id), None)
        if seen is not None:
            seen.runs.append(cal_run.key)
        else:
            info.used.append(_used(calibration, cal_run.key, str(file)))
    texts = (
        {t.id: t.text for t in tickets}
        if options.show_text and loaded.suite.dataset.share_text
        else None
    )
    # a run whose tickets all failed has nothing to pair: no comparison with it (its gate says why)
    comparisons: list[Comparison] = [
        compare_runs(
            results[0], r, labels, metrics[0], m, texts=texts, n_resamples=options.bootstrap
        )
        for r, m in zip(results[1:], metrics[1:], strict=True)
        if not (m.failed or metrics[0].failed)
    ]
    gates: list[Gate] = check_answered(metrics)
    gates += check_gates(metrics, options.fail_under, options.fail_over)
    if options.baseline is not None:
        previous = read_report(options.baseline)
        gates += check_baseline(metrics, previous.runs, options.tolerance)
        comparisons += _baseline_comparisons(options, previous, results, metrics, labels, texts)
    spec = loaded.suite.sample
    sample = options.sample if options.sample is not None else spec.size
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
            seed=options.seed if options.seed is not None else spec.seed,
            stratified=bool(sample)
            and (options.stratify if options.stratify is not None else spec.stratify),
        ),
        rubric=SuiteRubric(
            name=loaded.rubric.name,
            path=str(loaded.rubric_path),
            fingerprint=loaded.rubric.fingerprint,
            axis=loaded.axis,
            labels=len(labels),
        ),
        runs=metrics,
        calibration=info,
        comparisons=comparisons,
        gates=gates,
    )
    return report, results

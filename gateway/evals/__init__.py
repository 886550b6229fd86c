"""The eval harness (DESIGN.md §6): suites, runs, metrics, comparisons, gates, reports,
calibration fitting and threshold advice, behind ``rubric eval | calibrate | thresholds |
compare`` (``gateway.evals.cli``).

Import from here; the submodules are where each part lives:

- ``suite``:        suite file models and the suite errors (set-up errors)
- ``loading``:      ``load_suite``, ``LoadedSuite``: paths, rubric, tickets
- ``predictions``:  ``Prediction``, ``RunResult`` and the predictions-*.jsonl files
- ``runner``:       one run of the matrix: options, ``run_tickets``
- ``factory``:      ``GatewayFactory``: the gateway's own classifier for a run
- ``sampling``:     plain and stratified samples of a split
- ``metrics``:      classification metrics and routing shares
- ``confidence``:   ECE, Brier, NLL, AUROC, coverage, thresholds for a precision
- ``paired``:       bootstrap CIs and McNemar
- ``run_metrics``:  ``RunMetrics`` of a run (``compute_metrics``)
- ``redecision``:   offline calibration, decided as the server decides
- ``comparison``:   run B against run A
- ``gates``:        ``--fail-under`` / ``--fail-over`` / ``--baseline``
- ``suite_report``: ``SuiteReport`` (metrics.json)
- ``evaluate``:     ``rubric eval``
- ``fitting``:      temperature and per-label threshold fitting
- ``none_fits``:    the none_fits floor fitted from in-scope tickets, and what it flags
- ``calibrate``:    ``rubric calibrate``
- ``thresholds``:   ``rubric thresholds``
- ``report_text``:  terminal table and report.md
- ``report_rows``:  the table's rows and the notes on what they mean
- ``plots``:        PNG plots
- ``report``:       writing a report directory
"""

from __future__ import annotations

from gateway.evals.calibrate import (
    CalibrationOutcome,
    CalibrationStats,
    ConfidenceSet,
    calibrate_suite,
    calibration_stats,
    confidence_set,
)
from gateway.evals.comparison import (
    Comparison,
    Flip,
    MetricDelta,
    compare_runs,
)
from gateway.evals.confidence import (
    CoveragePoint,
    ReliabilityBin,
    auroc,
    binary_brier,
    brier_score,
    coverage_curve,
    ece_floor,
    expected_calibration_error,
    nll,
    reliability_bins,
    threshold_for_precision,
    wilson_lower,
)
from gateway.evals.evaluate import (
    evaluate_suite,
)
from gateway.evals.factory import (
    GatewayFactory,
    eval_settings,
    real_factory,
)
from gateway.evals.fitting import (
    confidence_loss,
    fit_temperature,
    fit_temperature_to_confidence,
    label_thresholds,
    log_softmax,
    set_nll,
)
from gateway.evals.gates import (
    BASELINE_METRICS,
    GATE_METRICS,
    Gate,
    check_baseline,
    check_gates,
    parse_gate,
)
from gateway.evals.loading import (
    DATA_DIR_ENV,
    LoadedSuite,
    load_suite,
)
from gateway.evals.metrics import (
    ClassMetrics,
    LabelStats,
    MultiLabelMetrics,
    Routing,
    Share,
    classification_metrics,
    confusion_matrix,
    macro_f1_from_arrays,
    multilabel_metrics,
    percentile,
    routing,
)
from gateway.evals.none_fits import (
    DEFAULT_LIFT,
    NoneFitsRates,
    fit_label_traffic,
    fit_none_fits_floor,
    none_fits_rates,
    none_fits_signals,
)
from gateway.evals.paired import (
    Interval,
    McNemar,
    PairedMetric,
    accuracy_of,
    bootstrap_delta,
    mcnemar,
)
from gateway.evals.plots import (
    plot_confusion,
    plot_coverage,
    plot_reliability,
)
from gateway.evals.predictions import (
    Prediction,
    RunResult,
    prediction_of,
    predictions_file,
    read_predictions,
    write_predictions,
)
from gateway.evals.redecision import (
    calibrated_predictions,
    decide_prediction,
    uncalibrated_predictions,
)
from gateway.evals.report import (
    ReportFiles,
    report_dir,
    write_report,
)
from gateway.evals.report_text import (
    TABLE_ROWS,
    markdown,
    runs_table,
)
from gateway.evals.run_metrics import (
    ConfusionMatrix,
    Cost,
    OutOfScope,
    RunMetrics,
    Timing,
    compute_metrics,
    metric_value,
)
from gateway.evals.runner import (
    ClassifierFactory,
    ClassifyFn,
    EvalOptions,
    ProgressFactory,
    ProgressFn,
    build_requests,
    decision_floors,
    known_calibrations,
    run_one,
    run_tickets,
    stored_calibration,
    without_rubric_examples,
)
from gateway.evals.sampling import (
    sample_tickets,
    stratified_sample,
)
from gateway.evals.suite import (
    CalibrationSpec,
    DataMissingError,
    DatasetSpec,
    MatrixSpec,
    RunSpec,
    SampleSpec,
    ScorerName,
    Suite,
    SuiteError,
    Ticket,
)
from gateway.evals.suite_report import (
    CalibrationInfo,
    CalibrationUsed,
    DatasetInfo,
    SuiteReport,
    SuiteRubric,
    read_report,
)
from gateway.evals.thresholds import (
    ThresholdAdvice,
    ThresholdRow,
    recommend_thresholds,
)

__all__ = [
    "BASELINE_METRICS",
    "DATA_DIR_ENV",
    "DEFAULT_LIFT",
    "GATE_METRICS",
    "TABLE_ROWS",
    "CalibrationInfo",
    "CalibrationOutcome",
    "CalibrationSpec",
    "CalibrationStats",
    "CalibrationUsed",
    "ClassMetrics",
    "ClassifierFactory",
    "ClassifyFn",
    "Comparison",
    "ConfidenceSet",
    "ConfusionMatrix",
    "Cost",
    "CoveragePoint",
    "DataMissingError",
    "DatasetInfo",
    "DatasetSpec",
    "EvalOptions",
    "Flip",
    "Gate",
    "GatewayFactory",
    "Interval",
    "LabelStats",
    "LoadedSuite",
    "MatrixSpec",
    "McNemar",
    "MetricDelta",
    "MultiLabelMetrics",
    "NoneFitsRates",
    "OutOfScope",
    "PairedMetric",
    "Prediction",
    "ProgressFactory",
    "ProgressFn",
    "ReliabilityBin",
    "ReportFiles",
    "Routing",
    "RunMetrics",
    "RunResult",
    "RunSpec",
    "SampleSpec",
    "ScorerName",
    "Share",
    "Suite",
    "SuiteError",
    "SuiteReport",
    "SuiteRubric",
    "ThresholdAdvice",
    "ThresholdRow",
    "Ticket",
    "Timing",
    "accuracy_of",
    "auroc",
    "binary_brier",
    "bootstrap_delta",
    "brier_score",
    "build_requests",
    "calibrate_suite",
    "calibrated_predictions",
    "calibration_stats",
    "check_baseline",
    "check_gates",
    "classification_metrics",
    "compare_runs",
    "compute_metrics",
    "confidence_loss",
    "confidence_set",
    "confusion_matrix",
    "coverage_curve",
    "decide_prediction",
    "decision_floors",
    "ece_floor",
    "eval_settings",
    "evaluate_suite",
    "expected_calibration_error",
    "fit_label_traffic",
    "fit_none_fits_floor",
    "fit_temperature",
    "fit_temperature_to_confidence",
    "known_calibrations",
    "label_thresholds",
    "load_suite",
    "log_softmax",
    "macro_f1_from_arrays",
    "markdown",
    "mcnemar",
    "metric_value",
    "multilabel_metrics",
    "nll",
    "none_fits_rates",
    "none_fits_signals",
    "parse_gate",
    "percentile",
    "plot_confusion",
    "plot_coverage",
    "plot_reliability",
    "prediction_of",
    "predictions_file",
    "read_predictions",
    "read_report",
    "real_factory",
    "recommend_thresholds",
    "reliability_bins",
    "report_dir",
    "routing",
    "run_one",
    "run_tickets",
    "runs_table",
    "sample_tickets",
    "set_nll",
    "stored_calibration",
    "stratified_sample",
    "threshold_for_precision",
    "uncalibrated_predictions",
    "wilson_lower",
    "without_rubric_examples",
    "write_predictions",
    "write_report",
]

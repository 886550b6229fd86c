"""``rubric thresholds``: auto_route / review thresholds recommended from labelled data."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from gateway.evals.confidence import threshold_for_precision
from gateway.evals.loading import LoadedSuite
from gateway.evals.redecision import calibrated_predictions, uncalibrated_predictions
from gateway.evals.runner import (
    ClassifierFactory,
    EvalOptions,
    ProgressFactory,
    decision_floors,
    known_calibrations,
    run_one,
    stored_calibration,
    without_rubric_examples,
)
from gateway.rubrics import Thresholds


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
    on calibrated confidences when a calibration is stored (beside the rubric, or in
    ``options.calibration_file``) and ``options.apply_calibration`` is on."""
    spec = loaded.suite.calibration
    split = options.split or (spec.split if spec else loaded.suite.split)
    size = options.sample if options.sample is not None else (spec.size if spec else None)
    seed = options.seed if options.seed is not None else (spec.seed if spec else None)
    stratify = (
        options.stratify if options.stratify is not None else (spec.stratify if spec else None)
    )
    tickets = without_rubric_examples(loaded, loaded.tickets(split, size, seed, stratify))
    labels = loaded.labels
    thresholds = loaded.rubric.thresholds_for(loaded.axis)
    floors = decision_floors(options)
    out = []
    for run in loaded.runs():
        result = run_one(loaded, tickets, run, factory, options, progress)
        known = known_calibrations(loaded, result, options.calibration_file)
        preds = uncalibrated_predictions(
            [p for p in result.predictions if p.error is None],
            labels,
            known,
            axis=loaded.axis,
            thresholds=thresholds,
            floors=floors,
        )
        calibration = (
            stored_calibration(loaded, result, options.calibration_file)
            if options.apply_calibration
            else None
        )
        if calibration is not None:
            preds = calibrated_predictions(
                preds, labels, calibration, axis=loaded.axis, thresholds=thresholds, floors=floors
            )
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
                calibration=calibration.id if calibration else None,
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
                current=thresholds,
                curve=curve,
            )
        )
    return out

"""Deciding a run's predictions again offline, after a stored calibration the gateway did not
apply, exactly as the server decides a response.

There is no decision logic here: the calibration is applied through ``Calibration.applied``, the
axis decided by ``gateway.pipeline.decision.decide_axis`` with the ticket's rule flags and the
deployment's floors, and the ticket by ``decide_ticket`` with its ``fallback`` fact, the same
calls ``Classifier`` makes (STYLE.md: one function per decision).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import Floors
from gateway.evals.predictions import Prediction
from gateway.pipeline import Calibration, decide_axis, decide_ticket
from gateway.rubrics import Thresholds
from gateway.schemas import AxisResult, Decision
from gateway.scoring import AxisScores


def decide_prediction(
    p: Prediction,
    labels: Sequence[str],
    axis: str,
    thresholds: Thresholds,
    floors: Floors,
    calibration: Calibration | None = None,
) -> tuple[AxisResult, Decision]:
    """The prediction's axis result and ticket decision, taken as the server takes them.

    Needs the prediction's scores and raw scores (a fresh run's, or a ``predictions-*.jsonl``
    line, which keeps both).
    """
    scored = AxisScores(raw=dict(p.raw), scores={n: p.scores.get(n, 0.0) for n in labels})
    if calibration is not None:
        scored, thresholds = calibration.applied(scored, thresholds)
        floors = calibration.floors_for(floors)
    fit = calibration.fit_score(scored.raw) if calibration is not None else None
    primary = decide_axis(axis, scored, thresholds, floors, p.flags, fit=fit)
    decision, _ = decide_ticket(primary, p.flags, fallback=p.fallback)
    return primary, decision


def calibrated_predictions(
    preds: Sequence[Prediction],
    labels: Sequence[str],
    calibration: Calibration,
    *,
    axis: str,
    thresholds: Thresholds,
    floors: Floors,
) -> list[Prediction]:
    """Apply a calibration offline to predictions the gateway returned uncalibrated, and decide
    each again with it.

    Temperature scaling keeps the ranking and raw scores, so top label, ``labels`` and
    multi_fit stay; scores, confidence, margin, none_fits (a fitted floor moves it) and the
    decision are the server's for the calibrated distribution. Errors, predictions without
    scores and ones the gateway already calibrated are kept as they were.
    """
    out = []
    for p in preds:
        if p.error is not None or not p.scores or not p.raw or p.calibration is not None:
            out.append(p)
            continue
        primary, decision = decide_prediction(p, labels, axis, thresholds, floors, calibration)
        out.append(
            p.model_copy(
                update={
                    "top_label": primary.top_label,
                    "scores": primary.scores,
                    "confidence": primary.confidence,
                    "margin": primary.margin,
                    "none_fits": primary.none_fits,
                    "fit_score": calibration.fit_score(p.raw),
                    "decision": decision,
                    "calibration": calibration.id,
                }
            )
        )
    return out


def uncalibrated_predictions(
    preds: Sequence[Prediction],
    labels: Sequence[str],
    known: Sequence[Calibration],
    *,
    axis: str,
    thresholds: Thresholds,
    floors: Floors,
) -> list[Prediction]:
    """Predictions as the gateway decides them with no calibration.

    A prediction the classifier calibrated (a factory other than the harness's own, which asks
    for none) has the calibration undone, the inverse temperature on its scores, and is decided
    again with the rubric's thresholds and the deployment's floors; a calibration not in
    ``known`` cannot be undone and is a ``ValueError``. Predictions without a calibration are
    kept as they are.
    """
    by_id = {c.id: c for c in known}
    out = []
    for p in preds:
        if p.calibration is None or p.error is not None:
            out.append(p)
            continue
        applied = by_id.get(p.calibration)
        if applied is None:
            raise ValueError(
                f"ticket {p.id} came back with calibration {p.calibration}, which is neither "
                "beside the rubric nor in --calibration: its uncalibrated numbers are unknown"
            )
        undo = Calibration(key=applied.key, temperature=1.0 / applied.temperature)
        plain = p.model_copy(
            update={"scores": undo.apply({n: p.scores.get(n, 0.0) for n in labels})}
        )
        primary, decision = decide_prediction(plain, labels, axis, thresholds, floors)
        out.append(
            plain.model_copy(
                update={
                    "top_label": primary.top_label,
                    "scores": primary.scores,
                    "confidence": primary.confidence,
                    "margin": primary.margin,
                    "none_fits": primary.none_fits,
                    "fit_score": None,
                    "decision": decision,
                    "calibration": None,
                }
            )
        )
    return out

"""Offline re-decisions (a stored calibration the gateway did not apply) against the server's
own decisions: the harness must decide exactly as ``Classifier`` does, rules and provider
outages included, because it calls the same functions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from support.scorers import Scripted
from support.settings import make_settings

from gateway.config import Floors
from gateway.evals import (
    Prediction,
    Ticket,
    calibrated_predictions,
    decide_prediction,
    prediction_of,
    uncalibrated_predictions,
)
from gateway.pipeline import (
    Calibration,
    CalibrationKey,
    Classifier,
    build_classifier,
    save_calibration,
)
from gateway.redaction import PassThroughRedactor
from gateway.rubrics import RubricStore, Thresholds
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.scoring import AxisScores

RUBRIC = """\
name: r
thresholds: {auto_route: 0.85, review: 0.6}
labels:
  - {name: a, rubric: Is it A}
  - {name: b, rubric: Is it B}
  - {name: c, rubric: Is it C}
rules:
  - {name: hacked, match: {any: [hacked]}, action: escalate}
  - {name: invoice, match: {any: [invoice]}, action: review, force: {category: b}}
  - {name: outage, match: {any: [outage]}, action: flag, force: {category: c}}
"""
LABELS = ["a", "b", "c"]
THRESHOLDS = Thresholds(auto_route=0.85, review=0.6)


def _ticket(top: str, p: Sequence[float], raw: Sequence[float] | None = None) -> AxisScores:
    others = [name for name in LABELS if name != top]
    scores = {top: p[0], others[0]: p[1], others[1]: p[2]}
    raw = raw if raw is not None else (0.9, 0.1, 0.1)
    return AxisScores(raw={top: raw[0], others[0]: raw[1], others[1]: raw[2]}, scores=scores)


# text -> (axis scores, fallback): each case sits clear of the thresholds either side of the
# calibration below (temperature 2; label b's auto-route bar 0.5)
CASES: dict[str, tuple[AxisScores, bool]] = {
    "very clear": (_ticket("a", (0.995, 0.004, 0.001)), False),  # auto, stays auto
    "clear": (_ticket("a", (0.97, 0.02, 0.01)), False),  # auto, calibrated → review
    "clear b": (_ticket("b", (0.9, 0.07, 0.03)), False),  # auto; review but for b's bar
    "middling": (_ticket("a", (0.7, 0.2, 0.1)), False),  # review, calibrated → manual
    "nothing fits": (_ticket("a", (0.5, 0.3, 0.2), (0.2, 0.1, 0.1)), False),  # manual
    "several fit": (_ticket("a", (0.995, 0.004, 0.001), (0.97, 0.96, 0.1)), False),  # review
    "we were hacked": (_ticket("a", (0.995, 0.004, 0.001)), False),  # escalate
    "my invoice": (_ticket("a", (0.995, 0.004, 0.001)), False),  # forced b, review
    "an outage": (_ticket("a", (0.995, 0.004, 0.001)), False),  # forced c, auto_route
    "provider down": (_ticket("a", (0.995, 0.004, 0.001)), True),  # fallback: review
}


def _server(tmp_path: Path) -> tuple[Classifier, Path, Floors]:
    rubric_path = tmp_path / "r.yaml"
    rubric_path.write_text(RUBRIC)
    settings = make_settings(rubrics={"dir": tmp_path}, cache={"enabled": False})
    classifier = build_classifier(
        settings,
        rubrics=RubricStore(tmp_path),
        redactor=PassThroughRedactor(),
        scorer=Scripted(CASES.__getitem__),
    )
    return classifier, rubric_path, settings.floors


async def _classify(classifier: Classifier, texts: Sequence[str]) -> list[ClassifyResponse]:
    out = await classifier.classify_many([ClassifyRequest(text=t, rubric="r") for t in texts])
    assert all(isinstance(r, ClassifyResponse) for r in out), out
    return [r for r in out if isinstance(r, ClassifyResponse)]


def _predictions(texts: Sequence[str], responses: Sequence[ClassifyResponse]) -> list[Prediction]:
    return [
        prediction_of(Ticket(id=f"t{i}", text=t, gold=("a",)), r)
        for i, (t, r) in enumerate(zip(texts, responses, strict=True))
    ]


def _calibration(classifier: Classifier, rubric_path: Path) -> Calibration:
    fingerprint = classifier.rubrics.get("r").fingerprint
    cal = Calibration(
        key=CalibrationKey(fingerprint=fingerprint, scorer="local", model="fake/scripted"),
        temperature=2.0,
        label_thresholds={"b": 0.5},
    )
    save_calibration(rubric_path, cal)
    return cal


async def test_offline_and_server_decisions_agree(tmp_path: Path) -> None:
    classifier, rubric_path, floors = _server(tmp_path)
    texts = list(CASES)
    plain = await _classify(classifier, texts)
    preds = _predictions(texts, plain)
    # without a calibration, deciding a prediction again gives the server's decision back
    again = [decide_prediction(p, LABELS, "category", THRESHOLDS, floors)[1] for p in preds]
    assert again == [r.decision for r in plain]
    assert [r.decision for r in plain] == [
        "auto_route",
        "auto_route",
        "auto_route",
        "review",
        "manual",
        "review",
        "escalate",
        "review",
        "auto_route",
        "review",
    ]

    cal = _calibration(classifier, rubric_path)
    served = await _classify(classifier, texts)  # the server now applies it itself
    assert all(r.calibration == cal.id for r in served)
    offline = calibrated_predictions(
        preds, LABELS, cal, axis="category", thresholds=THRESHOLDS, floors=floors
    )
    assert [p.decision for p in offline] == [r.decision for r in served]
    assert [p.top_label for p in offline] == [r.top_label for r in served]
    for p, r in zip(offline, served, strict=True):
        assert p.calibration == cal.id
        # offline starts from the response's 4-decimal scores, the server from full precision
        assert p.confidence == pytest.approx(r.confidence, abs=1e-3)
    # the calibration moved decisions both ways, so the agreement is not vacuous
    changed = {t: (a.decision, b.decision) for t, a, b in zip(texts, plain, served, strict=True)}
    assert changed["clear"] == ("auto_route", "review")
    assert changed["middling"] == ("review", "manual")
    assert changed["clear b"] == ("auto_route", "auto_route")  # b's own bar keeps it routed


async def test_offline_redecision_downgrades_a_fallback_answer_as_the_server_does(
    tmp_path: Path,
) -> None:
    classifier, rubric_path, floors = _server(tmp_path)
    (response,) = await _classify(classifier, ["provider down"])
    assert response.fallback
    assert response.confidence >= THRESHOLDS.auto_route
    assert response.decision == "review"  # the server never auto-routes an outage answer
    (pred,) = _predictions(["provider down"], [response])
    assert pred.fallback

    _, decision = decide_prediction(pred, LABELS, "category", THRESHOLDS, floors)
    assert decision == "review"
    # the same scores from the provider itself would have been auto-routed
    healthy = pred.model_copy(update={"fallback": False})
    assert decide_prediction(healthy, LABELS, "category", THRESHOLDS, floors)[1] == "auto_route"

    # a calibration whose bar lets this label auto-route does not lift the downgrade offline,
    # nor on the server
    cal = _calibration(classifier, rubric_path).model_copy(update={"label_thresholds": {"a": 0.5}})
    save_calibration(rubric_path, cal)
    (offline,) = calibrated_predictions(
        [pred], LABELS, cal, axis="category", thresholds=THRESHOLDS, floors=floors
    )
    (healthy_offline,) = calibrated_predictions(
        [healthy], LABELS, cal, axis="category", thresholds=THRESHOLDS, floors=floors
    )
    (served,) = await _classify(classifier, ["provider down"])
    assert served.calibration == cal.id
    assert (offline.decision, served.decision) == ("review", "review")
    assert healthy_offline.decision == "auto_route"


async def test_a_fitted_none_fits_floor_is_applied_offline_as_the_server_applies_it(
    tmp_path: Path,
) -> None:
    classifier, rubric_path, floors = _server(tmp_path)
    texts = list(CASES)
    plain = await _classify(classifier, texts)
    preds = _predictions(texts, plain)
    # every case but "several fit" (best raw 0.97) and "nothing fits" (0.2) has best raw 0.9
    cal = _calibration(classifier, rubric_path).model_copy(update={"none_fits_floor": 0.95})
    save_calibration(rubric_path, cal)
    served = await _classify(classifier, texts)
    assert all(r.calibration == cal.id for r in served)
    offline = calibrated_predictions(
        preds, LABELS, cal, axis="category", thresholds=THRESHOLDS, floors=floors
    )
    assert [p.none_fits for p in offline] == [r.none_fits for r in served]
    assert [p.decision for p in offline] == [r.decision for r in served]
    flagged = {t for t, r in zip(texts, served, strict=True) if r.none_fits}
    assert flagged == set(texts) - {"several fit"}
    assert {t for t, r in zip(texts, plain, strict=True) if r.none_fits} == {"nothing fits"}
    by_text = dict(zip(texts, served, strict=True))
    assert by_text["clear"].decision == "manual"
    assert "every raw score < 0.95" in by_text["clear"].reason
    assert by_text["we were hacked"].decision == "escalate"  # a rule still wins
    # undoing the calibration gives the deployment's floor back
    undone = uncalibrated_predictions(
        _predictions(texts, served),
        LABELS,
        [cal],
        axis="category",
        thresholds=THRESHOLDS,
        floors=floors,
    )
    assert [p.none_fits for p in undone] == [r.none_fits for r in plain]
    assert [p.decision for p in undone] == [r.decision for r in plain]

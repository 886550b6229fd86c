"""The calibration the gateway applies: ``Calibration.apply``, its file beside a rubric, the
store the request path reads it through, and ``Classifier`` applying it (fitting is in
tests/evals/test_fitting.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from support.scorers import Scripted
from support.settings import make_settings

from gateway.config import Floors
from gateway.pipeline import LabelTraffic
from gateway.pipeline.calibration import (
    Calibration,
    CalibrationKey,
    CalibrationStore,
    calibration_path,
    load_calibration,
    save_calibration,
)
from gateway.rubrics import RubricStore
from gateway.schemas import ClassifyRequest
from gateway.scoring import AxisScores


def _key(fingerprint: str = "f" * 64, model: str = "local/m") -> CalibrationKey:
    return CalibrationKey(fingerprint=fingerprint, scorer="local", model=model, prompt=None)


def test_apply_keeps_ranking_and_sums_to_one() -> None:
    cal = Calibration(key=_key(), temperature=2.0)
    scores = {"a": 0.7, "b": 0.2, "c": 0.1, "d": 0.0}
    out = cal.apply(scores)
    assert list(out) == list(scores)
    assert sum(out.values()) == pytest.approx(1.0)
    assert max(out, key=out.__getitem__) == "a"
    assert out["a"] < 0.7  # t > 1 softens
    assert Calibration(key=_key(), temperature=1.0).apply(scores)["a"] == pytest.approx(0.7)
    # exactly t: softmax(log(p) / 2) is proportional to sqrt(p)
    assert out["a"] / out["b"] == pytest.approx(np.sqrt(0.7 / 0.2))


def test_save_and_load_by_key(tmp_path: Path) -> None:
    rubric = tmp_path / "support.yaml"
    rubric.write_text(
        "name: support\nlabels:\n- {name: a, rubric: Is it A}\n- {name: b, rubric: Is it B}\n"
    )
    assert load_calibration(rubric, "f" * 64, "local", "local/m", None) is None
    cal = Calibration(key=_key(), temperature=1.5, label_thresholds={"a": 0.7})
    path = save_calibration(rubric, cal)
    assert path == calibration_path(rubric) == tmp_path / "support.calibration.json"
    found = load_calibration(rubric, "f" * 64, "local", "local/m", None)
    assert found == cal
    assert found is not None and found.id.startswith("cal-")
    assert found.auto_route_threshold("a", 0.85) == 0.7
    assert found.auto_route_threshold("b", 0.85) == 0.85
    # other keys do not match
    assert load_calibration(rubric, "e" * 64, "local", "local/m", None) is None
    assert load_calibration(rubric, "f" * 64, "llm", "local/m", None) is None
    assert load_calibration(rubric, "f" * 64, "local", "local/m", "classify.v2") is None
    # a second model is kept beside the first; a refit replaces; a new rubric version drops
    # the stale entry of the same scorer/model
    save_calibration(rubric, Calibration(key=_key(model="other"), temperature=3.0))
    save_calibration(rubric, cal.model_copy(update={"temperature": 2.5}))
    again = load_calibration(rubric, "f" * 64, "local", "local/m", None)
    assert again is not None and again.temperature == 2.5
    assert load_calibration(rubric, "f" * 64, "local", "other", None) is not None
    save_calibration(rubric, Calibration(key=_key(fingerprint="e" * 64), temperature=1.1))
    assert load_calibration(rubric, "f" * 64, "local", "local/m", None) is None
    # the rubric store only loads YAML: the calibration file is not taken for a rubric
    store = RubricStore(tmp_path)
    assert [info.name for info in store.list()] == ["support"]
    assert not store.errors


def test_store_rereads_a_changed_file(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    store = CalibrationStore()
    assert store.find(rubric, _key()) is None
    save_calibration(rubric, Calibration(key=_key(), temperature=1.5))
    found = store.find(rubric, _key())
    assert found is not None and found.temperature == 1.5
    save_calibration(rubric, Calibration(key=_key(), temperature=2.25))
    os.utime(calibration_path(rubric), ns=(1, 10**18))  # a distinct mtime even on coarse clocks
    found = store.find(rubric, _key())
    assert found is not None and found.temperature == 2.25


def test_broken_file_means_uncalibrated(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    calibration_path(rubric).write_text("{not json")
    assert load_calibration(rubric, "f" * 64, "local", "local/m", None) is None


# --------------------------------------------------------------------------- gateway wiring


def _fixed(text: str) -> tuple[AxisScores, bool]:
    """Always the same distribution: enough to see the calibration change it."""
    scores = {"a": 0.9, "b": 0.1}
    return AxisScores(raw=dict(scores), scores=dict(scores)), False


async def test_classifier_applies_the_stored_calibration(tmp_path: Path) -> None:
    from gateway.pipeline import build_classifier
    from gateway.redaction import PassThroughRedactor

    rubric_path = tmp_path / "r.yaml"
    rubric_path.write_text(
        "name: r\nthresholds: {auto_route: 0.85, review: 0.6}\n"
        "labels:\n- {name: a, rubric: Is it A}\n- {name: b, rubric: Is it B}\n"
    )
    store = RubricStore(tmp_path)
    classifier = build_classifier(
        make_settings(rubrics={"dir": tmp_path}, cache={"enabled": False}),
        rubrics=store,
        redactor=PassThroughRedactor(),
        scorer=Scripted(_fixed, model="fake/fixed"),
    )
    req = ClassifyRequest(text="hello", rubric="r")
    before = await classifier.classify(req)
    assert before.calibration is None
    assert before.decision == "auto_route"
    fingerprint = store.get("r").fingerprint
    cal = Calibration(
        key=CalibrationKey(fingerprint=fingerprint, scorer="local", model="fake/fixed"),
        temperature=2.0,
    )
    save_calibration(rubric_path, cal)
    after = await classifier.classify(req)
    assert after.calibration == cal.id
    # softmax(log p / 2) ∝ sqrt(p): 0.9/0.1 → 0.75/0.25, now under auto_route
    assert after.scores["a"] == pytest.approx(0.75, abs=1e-3)
    assert after.decision == "review"
    # a per-label bar lower than the rubric's lets 'a' auto-route again
    save_calibration(rubric_path, cal.model_copy(update={"label_thresholds": {"a": 0.7}}))
    os.utime(calibration_path(rubric_path), ns=(2, 2 * 10**18))
    assert (await classifier.classify(req)).decision == "auto_route"


# --------------------------------------------------------------------------- none_fits floor

# a calibration file as written before calibrations carried a none_fits floor
OLD_FILE = """{"version": 1, "entries": [{"key": {"fingerprint": "%s", "scorer": "local",
  "model": "local/m", "prompt": null, "axis": "category"}, "temperature": 0.8,
  "objective": "confidence", "label_thresholds": {}, "target_precision": null,
  "report": {"suite": "s", "fit_split": "val", "heldout_split": "test", "n_fit": 10,
  "n_heldout": 10, "nll_before": 1.0, "nll_after": 0.9, "ece_before": 0.1, "ece_after": 0.05,
  "brier_before": 0.3, "brier_after": 0.2, "fitted_at": "2026-11-22T00:03:14+00:00"}}]}
"""


def test_old_files_load_and_keep_the_deployment_floor(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    calibration_path(rubric).write_text(OLD_FILE % ("f" * 64))
    old = load_calibration(rubric, "f" * 64, "local", "local/m", None)
    assert old is not None and old.none_fits_floor is None
    floors = Floors()
    assert old.floors_for(floors) is floors
    # an id does not change for a file written before the floor existed
    assert old.id == Calibration(key=_key(), temperature=0.8).id
    assert old.id != old.model_copy(update={"none_fits_floor": 0.6}).id


def test_the_floor_round_trips_and_is_served_under_multi_fit(tmp_path: Path) -> None:
    rubric = tmp_path / "r.yaml"
    cal = Calibration(key=_key(), temperature=1.2, none_fits_floor=0.6171, none_fits_rate=0.05)
    save_calibration(rubric, cal)
    found = load_calibration(rubric, "f" * 64, "local", "local/m", None)
    assert found == cal and found is not None
    floors = found.floors_for(Floors())
    assert (floors.none_fits, floors.multi_fit) == (0.6171, 0.95)
    # over multi_fit it is served at multi_fit: no ticket can be both none_fits and multi_fit
    high = cal.model_copy(update={"none_fits_floor": 0.99})
    assert high.floors_for(Floors()).none_fits == 0.95
    # a floor on the fit score is in other units: kept (decide_axis keeps the two apart)
    lifted = high.model_copy(update={"none_fits_labels": {"a": LabelTraffic(mean=0, weight=1)}})
    assert lifted.floors_for(Floors()).none_fits == 0.99
    with pytest.raises(ValidationError):
        Calibration(key=_key(), temperature=1.0, none_fits_floor=1.5)


def _middling(text: str) -> tuple[AxisScores, bool]:
    """Best raw 0.5: over the deployment's none_fits floor (0.30), under a fitted 0.6."""
    return AxisScores(raw={"a": 0.5, "b": 0.1}, scores={"a": 0.9, "b": 0.1}), False


async def test_classifier_applies_the_rubrics_fitted_floor(tmp_path: Path) -> None:
    from gateway.pipeline import build_classifier
    from gateway.redaction import PassThroughRedactor

    rubric_path = tmp_path / "r.yaml"
    rubric_path.write_text(
        "name: r\nthresholds: {auto_route: 0.85, review: 0.6}\n"
        "labels:\n- {name: a, rubric: Is it A}\n- {name: b, rubric: Is it B}\n"
    )
    other_path = tmp_path / "other.yaml"
    other_path.write_text(rubric_path.read_text().replace("name: r", "name: other"))
    store = RubricStore(tmp_path)
    classifier = build_classifier(
        make_settings(rubrics={"dir": tmp_path}, cache={"enabled": False}),
        rubrics=store,
        redactor=PassThroughRedactor(),
        scorer=Scripted(_middling, model="fake/fixed"),
    )
    before = await classifier.classify(ClassifyRequest(text="hello", rubric="r"))
    assert (before.none_fits, before.decision) == (False, "auto_route")
    key = CalibrationKey(fingerprint=store.get("r").fingerprint, scorer="local", model="fake/fixed")
    save_calibration(rubric_path, Calibration(key=key, temperature=1.0, none_fits_floor=0.6))
    after = await classifier.classify(ClassifyRequest(text="hello", rubric="r"))
    assert (after.none_fits, after.decision) == (True, "manual")
    assert after.reason == "no label fits: every raw score < 0.60"
    assert after.axes == {} and after.scores["a"] == pytest.approx(0.9)
    # another rubric, without a calibration, keeps the deployment's floor
    other = await classifier.classify(ClassifyRequest(text="hello", rubric="other"))
    assert (other.none_fits, other.decision) == (False, "auto_route")


async def test_classifier_decides_none_fits_on_the_calibrations_fit_score(tmp_path: Path) -> None:
    from gateway.pipeline import build_classifier
    from gateway.redaction import PassThroughRedactor

    rubric_path = tmp_path / "r.yaml"
    rubric_path.write_text(
        "name: r\nthresholds: {auto_route: 0.85, review: 0.6}\n"
        "labels:\n- {name: a, rubric: Is it A}\n- {name: b, rubric: Is it B}\n"
    )
    store = RubricStore(tmp_path)
    classifier = build_classifier(
        make_settings(rubrics={"dir": tmp_path}, cache={"enabled": False}),
        rubrics=store,
        redactor=PassThroughRedactor(),
        scorer=Scripted(_middling, model="fake/fixed"),  # raw a 0.5, b 0.1
    )
    key = CalibrationKey(fingerprint=store.get("r").fingerprint, scorer="local", model="fake/fixed")
    # 'a' is a hub: its usual logit on traffic is 1.0, so a raw 0.5 (logit 0) sits under it
    hub = {"a": LabelTraffic(mean=1.0, weight=1.0), "b": LabelTraffic(mean=-3.0, weight=1.0)}
    cal = Calibration(key=key, temperature=1.0, none_fits_floor=0.45, none_fits_labels=hub)
    # a: 2 * 0 - 1 = -1; b: 2 * logit(0.1) + 3 = -1.39: the fit score is logistic(-1) = 0.27
    assert cal.fit_score({"a": 0.5, "b": 0.1}) == pytest.approx(1 / (1 + np.exp(1.0)))
    save_calibration(rubric_path, cal)
    served = await classifier.classify(ClassifyRequest(text="hello", rubric="r"))
    assert (served.none_fits, served.decision) == (True, "manual")
    assert served.reason == "no label fits: fit score 0.27 < 0.45"
    # the same floor on the best raw score (0.5) would not flag it
    plain = cal.model_copy(update={"none_fits_labels": {}})
    assert plain.fit_score({"a": 0.5, "b": 0.1}) is None
    assert plain.id != cal.id
    save_calibration(rubric_path, plain)
    os.utime(calibration_path(rubric_path), ns=(3, 3 * 10**18))
    again = await classifier.classify(ClassifyRequest(text="hello", rubric="r"))
    assert (again.none_fits, again.decision) == (False, "auto_route")


def test_a_ticket_with_a_label_at_multi_fit_is_never_none_fits() -> None:
    from gateway.pipeline import decide_axis
    from gateway.rubrics import Thresholds

    # two hub labels both at multi_fit, lifted off by their traffic below the floor
    scored = AxisScores(raw={"a": 0.96, "b": 0.96}, scores={"a": 0.5, "b": 0.5})
    hubs = {n: LabelTraffic(mean=6.0, weight=1.0) for n in ("a", "b")}
    cal = Calibration(key=_key(), temperature=1.0, none_fits_floor=0.6, none_fits_labels=hubs)
    fit = cal.fit_score(scored.raw)
    assert fit is not None and fit < 0.6
    floors = cal.floors_for(Floors())
    result = decide_axis("category", scored, Thresholds(), floors, fit=fit)
    assert (result.multi_fit, result.none_fits) == (True, False)
    # one label under multi_fit and a low fit score: none_fits
    low = AxisScores(raw={"a": 0.9, "b": 0.1}, scores={"a": 0.9, "b": 0.1})
    low_fit = cal.fit_score(low.raw)
    assert low_fit is not None
    assert decide_axis("category", low, Thresholds(), floors, fit=low_fit).none_fits

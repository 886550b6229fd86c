"""The calibration the gateway applies: ``Calibration.apply``, its file beside a rubric, the
store the request path reads it through, and ``Classifier`` applying it (fitting is in
tests/evals/test_fitting.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from support.scorers import Scripted
from support.settings import make_settings

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

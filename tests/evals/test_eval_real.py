"""The harness against the real Classifier and the embedded local scorer, on a tiny suite, and
(when ../shared/data is present) on a small slice of BANKING77 through the shipped suite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.settings import make_settings

from gateway.config import PROJECT_ROOT, get_settings
from gateway.evals import (
    ClassifyFn,
    DataMissingError,
    EvalOptions,
    LoadedSuite,
    RunSpec,
    SuiteReport,
    calibrate_suite,
    evaluate_suite,
    load_suite,
    real_factory,
    write_report,
)
from gateway.pipeline import build_classifier
from gateway.redaction import PassThroughRedactor
from gateway.rubrics import RubricStore
from gateway.scoring import LocalScorer

RUBRIC = """\
name: support_tiny
labels:
  - name: billing
    rubric: Is this text about a billing issue, charge, refund, or payment problem?
  - name: technical
    rubric: Is this text about a technical problem, bug, crash or error in the app?
  - name: account
    rubric: Is this text about logging in, passwords or account access?
  - name: shipping
    rubric: Is this text about delivery, shipping or a package that has not arrived?
"""

TICKETS = [
    ("I was charged twice for my subscription this month", "billing"),
    ("Please refund the duplicate payment on my card", "billing"),
    ("The app crashes every time I open settings", "technical"),
    ("I get an error 500 when I upload a file", "technical"),
    ("I forgot my password and cannot log in", "account"),
    ("My account is locked after too many login attempts", "account"),
    ("Where is my package? Tracking says delivered but nothing arrived", "shipping"),
    ("My order has not been shipped yet", "shipping"),
    ("What is the capital of Mongolia?", "oos"),
]


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "support_tiny.yaml").write_text(RUBRIC)
    (tmp_path / "data").mkdir()
    rows = [json.dumps({"text": t, "label": lb}) for t, lb in TICKETS]
    (tmp_path / "data" / "test.jsonl").write_text("\n".join(rows) + "\n")
    (tmp_path / "data" / "cal.jsonl").write_text("\n".join(rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        """\
name: support_tiny
data_dir: data
dataset:
  splits: {test: test.jsonl, cal: cal.jsonl}
  licence: CC0 (written for this test)
  attribution: tests/evals/test_eval_real.py
rubric: rubrics/support_tiny.yaml
oos_labels: [oos]
redact: false
batch_size: 4
calibration: {split: cal, size: null}
"""
    )
    return suite


def scorer_factory(scorer: LocalScorer, cache_dir: Path):  # type: ignore[no-untyped-def]
    """The real Classifier around the session's already-loaded local scorer."""

    @contextmanager
    def factory(loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        settings = make_settings(
            rubrics={"dir": loaded.rubric_path.parent},
            cache={"dir": cache_dir, "enabled": cache, "ttl_s": None, "size_limit_bytes": 1 << 24},
            redaction={"allow_unredacted": True},
        )
        classifier = build_classifier(
            settings,
            rubrics=RubricStore(loaded.rubric_path.parent),
            redactor=PassThroughRedactor(),
            scorer=scorer,
        )
        try:
            yield classifier.classify_many
        finally:
            classifier.close()

    return factory


def test_real_local_scorer_end_to_end(
    tiny_suite: Path, tmp_path: Path, local_scorer: LocalScorer
) -> None:
    loaded = load_suite(tiny_suite)
    factory = scorer_factory(local_scorer, tmp_path / "cache")
    report, results = evaluate_suite(loaded, factory, EvalOptions())
    (m,) = report.runs
    assert m.n == 9 and m.n_errors == 0
    assert m.scorer == "local"
    assert m.model == local_scorer.model
    assert m.accuracy >= 0.75  # easy tickets: the embedded model gets nearly all of them
    assert m.oos is not None and m.oos.auroc is not None
    assert m.cache_hits == 0
    files = write_report(report, results, tmp_path / "out")
    assert SuiteReport.model_validate_json(files.metrics.read_text()).runs[0].n == 9
    # resumable: a second run is answered from the result cache, with the same predictions
    again, again_results = evaluate_suite(loaded, factory, EvalOptions())
    assert again.runs[0].cache_hits == 9
    assert [p.top_label for p in again_results[0].predictions] == [
        p.top_label for p in results[0].predictions
    ]


TREE = """\
name: support_tree
axes:
  category:
    labels:
      - name: billing
        rubric: Is this text about a billing issue, charge, refund, or payment problem?
      - name: shipping
        rubric: Is this text about delivery, shipping or a package that has not arrived?
  issue:
    parent: category
    labels:
      - {name: duplicate_charge, parent: billing, rubric: being charged twice for one thing}
      - {name: refund, parent: billing, rubric: asking for money back}
      - {name: lost_parcel, parent: shipping, rubric: a package that never arrived}
      - {name: late, parent: shipping, rubric: an order that has not shipped yet}
"""


def test_a_child_axis_is_evaluated_within_its_parent(
    tmp_path: Path, local_scorer: LocalScorer
) -> None:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "support_tree.yaml").write_text(TREE)
    rows = [
        ("I was charged twice for my subscription this month", "duplicate_charge"),
        ("Please give me my money back for the order", "refund"),
        ("Tracking says delivered but the package never arrived", "lost_parcel"),
        ("My order has not shipped yet after a week", "late"),
    ]
    (tmp_path / "test.jsonl").write_text(
        "".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in rows)
    )
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: tree\ndata_dir: .\ndataset:\n  splits: {test: test.jsonl}\n"
        "  licence: CC0 (written for this test)\n  attribution: tests/evals/test_eval_real.py\n"
        "rubric: rubrics/support_tree.yaml\naxis: issue\nredact: false\n"
    )
    loaded = load_suite(suite)
    report, results = evaluate_suite(
        loaded, scorer_factory(local_scorer, tmp_path / "c"), EvalOptions()
    )
    (m,) = report.runs
    predicted = [p.top_label for p in results[0].predictions]
    # the child axis' answers, not the category's (the response's primary axis)
    assert set(predicted) <= {"duplicate_charge", "refund", "lost_parcel", "late"}
    assert m.accuracy >= 0.75


def test_real_calibration_round_trip(
    tiny_suite: Path, tmp_path: Path, local_scorer: LocalScorer
) -> None:
    loaded = load_suite(tiny_suite)
    factory = scorer_factory(local_scorer, tmp_path / "cache")
    (outcome,) = calibrate_suite(loaded, factory, EvalOptions())
    cal = outcome.calibration
    assert cal.key.model == local_scorer.model
    assert cal.key.fingerprint == loaded.rubric.fingerprint
    report, _ = evaluate_suite(loaded, factory, EvalOptions())
    # this factory's classifier applies the stored calibration itself: the harness undoes it
    # for the uncalibrated run and applies it offline beside it, so both are reported
    assert [m.key for m in report.runs] == ["local", "local+cal"]
    assert report.runs[0].calibration is None
    assert report.runs[1].calibration == cal.id
    # a refit starts from the scorer's own scores, whether or not the gateway applied the
    # first calibration: the temperature does not compound
    (again,) = calibrate_suite(loaded, factory, EvalOptions())
    assert again.calibration.temperature == pytest.approx(cal.temperature, rel=0.02)


def test_real_factory_builds_the_gateway_classifier(
    tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    try:
        loaded = load_suite(tiny_suite)
        report, _ = evaluate_suite(loaded, real_factory, EvalOptions(cache=False))
        assert report.runs[0].n_errors == 0
        assert report.runs[0].accuracy >= 0.75
    finally:
        get_settings.cache_clear()


def test_shipped_suites_parse() -> None:
    for path in sorted((PROJECT_ROOT / "evals" / "suites").glob("*.yaml")):
        loaded = load_suite(path)
        assert loaded.labels, path
        assert loaded.rubric_path.is_file(), path


def test_banking77_slice_if_data_present(tmp_path: Path, local_scorer: LocalScorer) -> None:
    loaded = load_suite(PROJECT_ROOT / "evals" / "suites" / "banking77.yaml")
    try:
        loaded.tickets(size=1)
    except DataMissingError as exc:
        pytest.skip(exc.message)
    report, _ = evaluate_suite(
        loaded, scorer_factory(local_scorer, tmp_path / "cache"), EvalOptions(sample=200, seed=1)
    )
    # a 200-ticket slice: loose bound; the full-split number is in the README
    assert report.runs[0].accuracy > 0.5

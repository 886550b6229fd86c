"""The harness scores what it names and reports what it applied (issue 16.1, 16.2, 16.4), against
the gateway's own Classifier and the embedded model (the session's, already loaded)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
from support.settings import make_settings
from typer.testing import CliRunner

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.evals import (
    ClassifyFn,
    EvalOptions,
    GatewayFactory,
    LoadedSuite,
    RunSpec,
    SuiteError,
    calibrate_suite,
    evaluate_suite,
    load_suite,
)
from gateway.evals import cli as eval_cli
from gateway.pipeline import build_classifier
from gateway.redaction import PassThroughRedactor
from gateway.rubrics import RubricStore
from gateway.schemas import ClassifyRequest, ClassifyResponse, RubricRef
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
# a copy made for a variant with the name left as it was; its questions are rotated, so
# scoring it instead of the suite's file gets nearly every ticket wrong
ROTATED = (
    RUBRIC.replace("a billing issue, charge, refund, or payment problem", "@S")
    .replace("a technical problem, bug, crash or error in the app", "@B")
    .replace("logging in, passwords or account access", "@T")
    .replace("delivery, shipping or a package that has not arrived", "@A")
    .replace("@S", "delivery, shipping or a package that has not arrived")
    .replace("@B", "a billing issue, charge, refund, or payment problem")
    .replace("@T", "a technical problem, bug, crash or error in the app")
    .replace("@A", "logging in, passwords or account access")
)

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
def suite(tmp_path: Path) -> Path:
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support_tiny.yaml").write_text(RUBRIC)
    (rubrics / "a_variant.yaml").write_text(ROTATED)  # same name, listed first
    (tmp_path / "data").mkdir()
    rows = "".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in TICKETS)
    (tmp_path / "data" / "test.jsonl").write_text(rows)
    (tmp_path / "data" / "cal.jsonl").write_text(rows)
    path = tmp_path / "suite.yaml"
    path.write_text(
        """\
name: support_tiny
data_dir: data
dataset:
  splits: {test: test.jsonl, cal: cal.jsonl}
  licence: CC0 (written for this test)
  attribution: tests/evals/test_eval_integrity.py
rubric: rubrics/support_tiny.yaml
oos_labels: [oos]
redact: false
batch_size: 4
calibration: {split: cal, size: null}
"""
    )
    return path


def _settings(tmp_path: Path) -> Settings:
    return make_settings(
        cache={"dir": tmp_path / "cache", "ttl_s": None, "size_limit_bytes": 1 << 24},
        redaction={"allow_unredacted": True},
    )


@pytest.fixture
def gateway_factory(tmp_path: Path, local_scorer: LocalScorer) -> GatewayFactory:
    return GatewayFactory(
        settings=_settings(tmp_path), local=local_scorer, redactor=PassThroughRedactor()
    )


class Recording:
    """A factory around another that keeps every response it passed on."""

    def __init__(self, inner: GatewayFactory) -> None:
        self.inner = inner
        self.responses: list[ClassifyResponse] = []

    @contextmanager
    def __call__(self, loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        with self.inner(loaded, run, cache=cache) as classify:

            async def recorded(
                reqs: Sequence[ClassifyRequest],
            ) -> list[ClassifyResponse | GatewayError]:
                out = await classify(reqs)
                self.responses += [r for r in out if isinstance(r, ClassifyResponse)]
                return out

            yield recorded


def test_eval_scores_the_suites_file_not_a_namesake(
    suite: Path, gateway_factory: GatewayFactory
) -> None:
    loaded = load_suite(suite)
    recording = Recording(gateway_factory)
    report, _ = evaluate_suite(loaded, recording, EvalOptions(cache=False))
    assert {r.rubric.fingerprint for r in recording.responses} == {loaded.rubric.fingerprint}
    assert report.rubric.fingerprint == loaded.rubric.fingerprint
    (m,) = report.runs
    assert m.n_errors == 0
    assert m.accuracy >= 0.75  # the rotated namesake would get these nearly all wrong


def test_a_response_for_another_rubric_stops_the_run(suite: Path) -> None:
    loaded = load_suite(suite)

    @contextmanager
    def stranger(loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        async def classify(
            reqs: Sequence[ClassifyRequest],
        ) -> list[ClassifyResponse | GatewayError]:
            return [
                ClassifyResponse(
                    axis="category",
                    top_label="billing",
                    scores={"billing": 1.0},
                    raw={"billing": 1.0},
                    confidence=1.0,
                    margin=1.0,
                    entropy=0.0,
                    decision="auto_route",
                    reason="x",
                    labels=["billing"],
                    rubric=RubricRef(name="support_tiny", fingerprint="not-the-suite-file"),
                    model="m",
                    scorer="local",
                    latency_ms=1.0,
                )
                for _ in reqs
            ]

        yield classify

    with pytest.raises(SuiteError, match="another file use the name 'support_tiny'"):
        evaluate_suite(loaded, stranger, EvalOptions())


def test_one_eval_reports_before_and_after_the_stored_calibration(
    suite: Path, gateway_factory: GatewayFactory
) -> None:
    loaded = load_suite(suite)
    (outcome,) = calibrate_suite(loaded, gateway_factory, EvalOptions())
    cal = outcome.calibration
    assert outcome.written_to == loaded.rubric_path.with_name("support_tiny.calibration.json")
    report, results = evaluate_suite(loaded, gateway_factory, EvalOptions())
    assert [m.key for m in report.runs] == ["local", "local+cal"]
    before, after = report.runs
    assert before.calibration is None and after.calibration == cal.id
    assert before.accuracy == after.accuracy  # one temperature keeps the ranking
    assert before.ece != after.ece
    assert report.calibration is not None
    (used,) = report.calibration.used
    assert (used.id, used.runs, used.file) == (cal.id, ["local+cal"], str(outcome.written_to))
    # the uncalibrated run is the scorer's own distribution: what --no-calibration reports
    off, off_results = evaluate_suite(loaded, gateway_factory, EvalOptions(apply_calibration=False))
    assert [m.key for m in off.runs] == ["local"]
    assert off.runs[0].calibration is None and off.runs[0].ece == pytest.approx(before.ece)
    assert off.calibration is not None and not off.calibration.applied
    confidences = [p.confidence for p in results[0].predictions]
    assert confidences == [p.confidence for p in off_results[0].predictions]

    # a classifier that applies the calibration itself (the server's default): undone offline
    @contextmanager
    def serving(loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        classifier = build_classifier(
            _settings(suite.parent),
            rubrics=RubricStore(loaded.rubric_path.parent, files=[loaded.rubric_path]),
            redactor=PassThroughRedactor(),
            local=gateway_factory.local,
        )
        try:
            yield classifier.classify_many
        finally:
            classifier.close()

    served, served_results = evaluate_suite(loaded, serving, EvalOptions(cache=False))
    assert [m.calibration for m in served.runs] == [None, cal.id]
    for p, q in zip(served_results[0].predictions, results[0].predictions, strict=True):
        assert p.top_label == q.top_label and p.decision == q.decision
        assert p.confidence == pytest.approx(q.confidence, abs=2e-3)  # 4-decimal wire scores


runner = CliRunner()


def test_every_writing_command_takes_an_output_option(
    suite: Path, gateway_factory: GatewayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    eval_cli.register(app)
    monkeypatch.setattr(eval_cli, "factory", gateway_factory)
    cal_file, cache, reports = tmp_path / "out" / "cal.json", tmp_path / "c2", tmp_path / "r"
    done = runner.invoke(
        app, ["calibrate", str(suite), "--out", str(cal_file), "--cache-dir", str(cache)]
    )
    assert done.exit_code == 0, done.output
    assert cal_file.is_file() and any(cache.iterdir())
    assert not list((suite.parent / "rubrics").glob("*.calibration.json"))
    ran = runner.invoke(
        app,
        ["eval", str(suite), "--out", str(reports), "--calibration", str(cal_file), "--no-plots"],
    )
    assert ran.exit_code == 0, ran.output
    (report_dir,) = reports.iterdir()
    md = (report_dir / "report.md").read_text()
    assert f"from {cal_file}" in md and "`local+cal`" in md
    plain = runner.invoke(app, ["eval", str(suite), "--out", str(reports), "--no-plots"])
    assert plain.exit_code == 0, plain.output
    assert "no calibration stored for it" in plain.output
    advice = runner.invoke(app, ["thresholds", str(suite), "--calibration", str(cal_file)])
    assert advice.exit_code == 0, advice.output
    assert "calibrationcal-" in "".join(advice.output.split())  # the title may wrap
    # defaults are documented where the options are
    helps = {
        c: " ".join(runner.invoke(app, [c, "--help"], env={"COLUMNS": "200"}).output.split())
        for c in ("eval", "calibrate")
    }
    assert "evals/reports" in helps["eval"] and "GATEWAY_CACHE_DIR" in helps["eval"]
    assert "calibration.json" in helps["calibrate"] and "--out" in helps["calibrate"]

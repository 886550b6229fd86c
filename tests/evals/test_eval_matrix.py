"""A suite's matrix of scorers × models: the local scorer beside a model in one suite, against
the real gateway classifier and the recording wire server; a run whose tickets all failed is a
failure, not a report of zeros."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer
from support.eval_fakes import FakeClassifier, write_tiny_suite
from support.settings import make_settings
from support.wire_server import WireServer, schema_filler
from typer.testing import CliRunner

from gateway.config import RetryPolicy
from gateway.errors import GatewayError, InvalidRequestError
from gateway.evals import (
    ClassifyFn,
    EvalOptions,
    GatewayFactory,
    LoadedSuite,
    RunSpec,
    evaluate_suite,
    load_suite,
    metric_value,
)
from gateway.evals import cli as eval_cli
from gateway.evals.suite import MatrixSpec
from gateway.redaction import PassThroughRedactor
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.scoring import LocalScorer

RUBRIC = """\
name: support_matrix
labels:
  - name: billing
    rubric: Is this text about a billing issue, charge, refund, or payment problem?
  - name: technical
    rubric: Is this text about a technical problem, bug, crash or error in the app?
  - name: account
    rubric: Is this text about logging in, passwords or account access?
"""

TICKETS = [
    ("I was charged twice for my subscription this month", "billing"),
    ("Please refund the duplicate payment on my card", "billing"),
    ("The app crashes every time I open settings", "technical"),
    ("I get an error 500 when I upload a file", "technical"),
    ("I forgot my password and cannot log in", "account"),
]


def test_the_local_scorer_is_one_run_of_the_matrix() -> None:
    matrix = MatrixSpec(
        scorers=["local", "llm", "local"],
        models=["openai/a", "openai/b"],
        prompts=[None, "classify.v2"],
    )
    assert [r.key for r in matrix.runs()] == [
        "local",
        "llm@openai/a",
        "llm@openai/a~classify.v2",
        "llm@openai/b",
        "llm@openai/b~classify.v2",
    ]


@pytest.fixture
def matrix_suite(tmp_path: Path) -> Path:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "support_matrix.yaml").write_text(RUBRIC)
    (tmp_path / "data").mkdir()
    rows = [json.dumps({"text": t, "label": lb}) for t, lb in TICKETS]
    (tmp_path / "data" / "test.jsonl").write_text("\n".join(rows) + "\n")
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        """\
name: support_matrix
data_dir: data
dataset:
  splits: {test: test.jsonl}
  licence: CC0 (written for this test)
  attribution: tests/evals/test_eval_matrix.py
rubric: rubrics/support_matrix.yaml
redact: false
batch_size: 2
matrix:
  scorers: [local, llm]
  models: [openai/test-model]
"""
    )
    return suite


def test_local_and_a_model_in_one_suite_against_the_wire_server(
    matrix_suite: Path,
    tmp_path: Path,
    wire: WireServer,
    local_scorer: LocalScorer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17 item 9: this matrix gave invalid_request for every ticket of the local run (the
    requests asked for the run's model, which the embedded model refuses)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = schema_filler
    settings = make_settings(
        cache={"dir": tmp_path / "cache", "enabled": False},
        provider={
            "model": "openai/other-model",  # the deployment's; the run picks its own
            "api_base": wire.url,
            "retry": RetryPolicy(max_retries=0),
        },
    )
    factory = GatewayFactory(settings=settings, local=local_scorer, redactor=PassThroughRedactor())
    loaded = load_suite(matrix_suite)
    report, _ = evaluate_suite(loaded, factory, EvalOptions(cache=False, bootstrap=50))
    assert [m.key for m in report.runs] == ["local", "llm@openai/test-model"]
    local, llm = report.runs
    assert (local.n_errors, llm.n_errors) == (0, 0)
    assert local.errors == {} and llm.errors == {}
    assert llm.scorer == "llm" and llm.model == "openai/test-model"
    assert local.accuracy >= 0.6  # easy tickets
    assert report.passed
    (comparison,) = report.comparisons
    assert comparison.n_paired == len(TICKETS)
    completions = [r for r in wire.requests if r.path.endswith("/chat/completions")]
    assert len(completions) == len(TICKETS)  # the llm run's tickets; the local run sends none
    assert {r.model for r in completions} == {"test-model"}


class _Failing:
    """Every ticket refused, as a deployment refuses a request it does not serve."""

    async def __call__(
        self, reqs: Sequence[ClassifyRequest]
    ) -> list[ClassifyResponse | GatewayError]:
        return [InvalidRequestError("model 'openai/x' is not served here") for _ in reqs]


def _llm_fails(fake: FakeClassifier):  # type: ignore[no-untyped-def]
    @contextmanager
    def factory(loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        fake.fingerprint = loaded.rubric.fingerprint
        yield _Failing() if run.scorer == "llm" else fake

    return factory


def _two_run_suite(tmp_path: Path) -> Path:
    path = write_tiny_suite(tmp_path)
    path.write_text(path.read_text() + "matrix: {scorers: [local, llm], models: [openai/x]}\n")
    return path


def test_a_run_whose_tickets_all_failed_is_a_failure(tmp_path: Path) -> None:
    fake = FakeClassifier()
    loaded = load_suite(_two_run_suite(tmp_path))
    report, _ = evaluate_suite(loaded, _llm_fails(fake), EvalOptions(bootstrap=50))
    local, llm = report.runs
    assert not local.failed and llm.failed
    assert llm.errors == {"invalid_request": 10}
    assert "every ticket failed (10/10: invalid_request ×10)" in llm.failure()
    assert "is not served here" in llm.failure()
    # no zeros passed off as numbers, no comparison with nothing paired
    assert metric_value(llm, "accuracy") is None and metric_value(llm, "macro_f1") is None
    assert metric_value(llm, "error_rate") == 1.0
    assert report.comparisons == []
    assert not report.passed
    (gate,) = [g for g in report.gates if not g.passed]
    assert (gate.run, gate.kind) == ("llm@openai/x", "answered")
    # the requests asked for no override: the factory built the classifier for the run
    assert all(r.model is None and r.prompt is None for batch in fake.batches for r in batch)


def test_cli_exits_non_zero_and_the_report_says_the_run_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = typer.Typer()
    eval_cli.register(app)
    monkeypatch.setattr(eval_cli, "factory", _llm_fails(FakeClassifier()))
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        app, ["eval", str(_two_run_suite(tmp_path)), "--out", str(out), "--no-plots"]
    )
    assert result.exit_code == 1, result.output
    assert "every ticket failed" in result.output
    assert "FAIL" in result.output
    assert "paired tickets" not in result.output  # no comparison with the failed run
    (report_dir,) = out.iterdir()
    md = (report_dir / "report.md").read_text()
    assert "**FAILED**: every ticket failed (10/10: invalid_request ×10)" in md
    assert "10/10: ALL FAILED" in md
    assert "0.000" not in md.split("## Run `llm@openai/x`")[1]
    assert "labels that have gold tickets in this set" in md


@pytest.mark.parametrize("weight", [0.5, 0.0])
def test_a_calibration_is_fitted_and_served_at_the_embedded_model_s_share(
    matrix_suite: Path,
    tmp_path: Path,
    wire: WireServer,
    local_scorer: LocalScorer,
    monkeypatch: pytest.MonkeyPatch,
    weight: float,
) -> None:
    """rubric calibrate on the llm scorer keys its temperature by GATEWAY_LLM_LOCAL_WEIGHT (the
    answers it was fitted on were mixed at that share), and the gateway applies it at that share
    only: a deployment that changes the weight gets no stale temperature."""
    from fastapi.testclient import TestClient

    from gateway.evals import calibrate_suite
    from gateway.server import create_app

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = schema_filler
    matrix_suite.write_text(
        matrix_suite.read_text().replace(
            "matrix:\n  scorers: [local, llm]\n  models: [openai/test-model]\n",
            "matrix:\n  scorers: [llm]\n  models: [openai/test-model]\n"
            "calibration: {split: test}\n",
        )
    )

    def settings(share: float) -> Any:
        return make_settings(
            cache={"enabled": False},
            rubrics={"dir": tmp_path / "rubrics"},
            redaction={"enabled": False},
            store={"enabled": False},
            scoring={"scorer": "llm", "local_weight": share},
            provider={
                "model": "openai/test-model",
                "api_base": wire.url,
                "retry": RetryPolicy(max_retries=0),
            },
        )

    factory = GatewayFactory(
        settings=settings(weight), local=local_scorer, redactor=PassThroughRedactor()
    )
    (outcome,) = calibrate_suite(load_suite(matrix_suite), factory, EvalOptions(cache=False))
    assert outcome.calibration.key.local_weight == (weight or None)
    assert outcome.written_to is not None and outcome.written_to.is_file()
    ticket = {"text": TICKETS[0][0], "rubric": "support_matrix"}
    served = {}
    for share in (0.5, 0.0):
        app = create_app(settings(share), wait=True, local=local_scorer)
        with TestClient(app) as client:
            resp = client.post("/classify", json=ticket)
        assert resp.status_code == 200, resp.text
        served[share] = resp.json()["calibration"]
    other = 0.0 if weight else 0.5
    assert (served[weight], served[other]) == (outcome.calibration.id, None)

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.wire_server import WireServer, text
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()
SUPPORT = str(Path(__file__).parents[1] / "rubrics" / "support.yaml")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_CACHE_DIR", str(tmp_path / "cache"))
    from gateway.config import get_settings

    get_settings.cache_clear()


def test_classify_json() -> None:
    result = runner.invoke(
        app, ["classify", "I was charged twice, refund me", "--rubric", "support", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["top_label"] == "billing"
    assert body["axes"]["priority"]["top_label"] in {"critical", "high", "normal", "low"}


def test_classify_table() -> None:
    result = runner.invoke(app, ["classify", "My package never arrived", "--rubric", "support"])
    assert result.exit_code == 0, result.output
    assert "shipping" in result.output
    assert "priority" in result.output


def test_classify_error_exit_code() -> None:
    result = runner.invoke(app, ["classify", "   "])
    assert result.exit_code == 2
    assert "text_empty" in result.output


def test_check_ok_file() -> None:
    result = runner.invoke(app, ["check", SUPPORT])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_check_reports_every_problem_with_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\n"
        "axes:\n"
        "  category:\n"
        "    labels:\n"
        "      - name: a\n"
        "        rubric: Is it about a?\n"
        "        colour: red\n"
        "      - name: b\n"
    )
    result = runner.invoke(app, ["check", str(bad), SUPPORT, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (
        f"{bad}:7: axes.category.labels[0].colour: Extra inputs are not permitted"
        in report["errors"]
    )
    assert any(
        e.startswith(f"{bad}:8: axes.category.labels[1].rubric: Field required")
        for e in report["errors"]
    )
    assert report["ok"] == [SUPPORT]


def test_check_warns_on_near_duplicate_rubrics(tmp_path: Path) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text(
        "name: dup\nlabels:\n"
        "  - name: refund\n    rubric: Is this text about a refund for a payment?\n"
        "  - name: money_back\n    rubric: Is this text about getting a refund of a payment?\n"
        "  - name: login\n    rubric: Is this text about logging in?\n"
    )
    result = runner.invoke(app, ["check", str(dup), "--json"])
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.output)["warnings"]
    assert "'refund' and 'money_back'" in warning


def test_classify_runs_the_start_up_check(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.config import get_settings

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("GATEWAY_SCORER", "logprob")
    monkeypatch.setenv("GATEWAY_API_BASE", wire.url)
    monkeypatch.setenv("GATEWAY_REDACT", "false")
    get_settings.cache_clear()
    wire.responder = lambda body: text("A")  # a model that returns no logprobs
    result = runner.invoke(app, ["classify", "I was charged twice", "--model", "openai/test-model"])
    get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    assert "config_invalid" in output
    assert "returned no logprobs" in output
    assert len(wire.requests) == 1  # the probe only: the ticket was never sent


def test_a_setup_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "GATEWAY_PORT": "not-a-port", "GATEWAY_CACHE_DIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "config_invalid" in run.stderr and "GATEWAY_PORT" in run.stderr
    assert "Traceback" not in run.stderr and "not-a-port" not in run.stderr

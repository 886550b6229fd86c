"""One rubric set name, one file (issue 16.1): the store and `rubric check` refuse two files
with one ``name:``, naming both; the eval harness's store serves exactly the file it is given."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.settings import make_settings
from typer.testing import CliRunner

from gateway.cli import app
from gateway.config import PROJECT_ROOT
from gateway.errors import RubricInvalidError, RubricNotFoundError
from gateway.redaction import SpacyModel
from gateway.rubrics import RubricStore, load_rubrics, name_conflicts
from gateway.scoring import LocalScorer
from gateway.server import create_app

GOOD = """\
name: demo
labels:
  - name: billing
    rubric: Is this text about a billing issue?
  - name: technical
    rubric: Is this text about a technical problem?
"""
# a copy made for a variant, its name left as it was
VARIANT = GOOD.replace("a billing issue", "a payment or invoice problem")


def _later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_two_files_with_one_name_at_start_up_are_both_refused(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(GOOD)
    (tmp_path / "a_variant.yaml").write_text(VARIANT)  # listed first
    store = RubricStore(tmp_path, reload_interval_s=0)
    assert len(store) == 0
    errors = store.errors
    assert set(errors) == {str(tmp_path / "demo.yaml"), str(tmp_path / "a_variant.yaml")}
    (problem,) = errors[str(tmp_path / "a_variant.yaml")]
    assert problem.startswith(f"{tmp_path / 'a_variant.yaml'}:1: name: rubric name 'demo'")
    assert str(tmp_path / "demo.yaml") in problem
    with pytest.raises(RubricNotFoundError) as caught:
        store.get("demo")
    assert "a_variant.yaml and demo.yaml both use that name" in caught.value.message
    assert str(tmp_path) not in caught.value.message  # it may reach an HTTP caller
    with pytest.raises(RubricInvalidError, match="also used by"):
        load_rubrics(tmp_path)


def test_a_namesake_added_later_is_refused_and_the_served_file_stays(tmp_path: Path) -> None:
    served = tmp_path / "demo.yaml"
    served.write_text(GOOD)
    store = RubricStore(tmp_path, reload_interval_s=0)
    fingerprint = store.get("demo").fingerprint
    copy = tmp_path / "a_copy.yaml"
    _later(copy, VARIANT)
    assert store.get("demo").fingerprint == fingerprint
    assert store.path_of("demo") == served
    (problem,) = store.errors[str(copy)]
    assert f"also used by {served}" in problem and f"{served} keeps serving it" in problem
    # the served file removed: the other one is the only file with the name, and is served
    served.unlink()
    assert store.get("demo").fingerprint != fingerprint
    assert store.path_of("demo") == copy
    assert not store.errors


def test_a_store_of_given_files_ignores_their_directory(tmp_path: Path) -> None:
    (tmp_path / "a_variant.yaml").write_text(VARIANT)
    (tmp_path / "demo.yaml").write_text(GOOD)
    store = RubricStore(tmp_path, files=[tmp_path / "demo.yaml"])
    assert store.path_of("demo") == tmp_path / "demo.yaml"
    assert "payment" not in store.get("demo").axes["category"].labels[0].rubric
    assert not store.errors


def test_name_conflicts_names_the_line_and_every_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("# a comment\n" + GOOD)
    b.write_text(VARIANT)
    (problem,) = name_conflicts({a: "demo"}, [tmp_path])
    assert problem.startswith(f"{a}:2: name: rubric name 'demo' is also used by {b}")
    assert name_conflicts({a: "demo", b: "other"}) == []


runner = CliRunner()


def test_check_refuses_two_files_with_one_name(tmp_path: Path) -> None:
    a, b = tmp_path / "demo.yaml", tmp_path / "copy.yaml"
    a.write_text(GOOD)
    b.write_text(VARIANT)
    both = runner.invoke(app, ["check", str(a), str(b), "--no-overlap", "--json"])
    assert both.exit_code == 1, both.output
    body = json.loads(both.output)
    assert len(body["errors"]) == 2 and body["ok"] == []
    assert all(str(a) in e and str(b) in e for e in body["errors"])
    # one file checked: its namesake in the same directory is what a server would load beside it
    one = runner.invoke(app, ["check", str(a), "--no-overlap"])
    assert one.exit_code == 1, one.output
    assert f"also used by {b}" in one.output
    b.write_text(VARIANT.replace("name: demo", "name: demo_variant"))
    assert runner.invoke(app, ["check", str(a), "--no-overlap"]).exit_code == 0


def test_the_server_serves_neither_file_and_names_both(
    tmp_path: Path, local_scorer: LocalScorer, spacy_model: SpacyModel
) -> None:
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    support = (PROJECT_ROOT / "rubrics" / "support.yaml").read_text()
    (rubrics / "support.yaml").write_text(support)
    (rubrics / "support_v2.yaml").write_text(support.replace("billing issue", "payment issue"))
    settings = make_settings(
        rubrics={"dir": rubrics, "reload_interval_s": 0}, cache={"enabled": False}
    )
    app = create_app(settings, wait=True, local=local_scorer, nlp=spacy_model)
    with TestClient(app) as client:
        resp = client.post("/classify", json={"text": "refund me", "rubric": "support"})
        assert resp.status_code == 404
        error = resp.json()["error"]
        assert error["code"] == "rubric_not_found"
        assert "support.yaml and support_v2.yaml both use that name" in error["message"]
        listing = client.get("/rubrics").json()
        assert listing["rubrics"] == []
        assert sorted(listing["errors"]) == ["support.yaml", "support_v2.yaml"]
        (problem,) = listing["errors"]["support.yaml"]
        assert problem.startswith("support.yaml:3: name: rubric name 'support' is also used by")
        assert "support_v2.yaml" in problem and str(rubrics) not in problem

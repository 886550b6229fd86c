"""The console's parts without a browser: version history files, the draft check (the same
problems as ``rubric check``), and the console of a keyless gateway (open, CSRF still on)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.console import DATA
from support.settings import make_settings

from gateway.console import with_console
from gateway.console.drafts import check_draft
from gateway.console.history import RubricHistory
from gateway.errors import RubricInvalidError
from gateway.redaction import SpacyModel
from gateway.rubrics import RubricStore, load_rubric_file
from gateway.scoring import LocalScorer
from gateway.server import create_app


@pytest.fixture
def rubric_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    shutil.copy(DATA / "bank.yaml", folder / "bank.yaml")
    return folder


def test_history_keeps_every_version_and_the_store_never_serves_it(rubric_dir: Path) -> None:
    path = rubric_dir / "bank.yaml"
    original = path.read_text()
    log = RubricHistory(path)
    edited = original.replace("Card and transfer questions", "Edited")
    v2 = log.save(edited, "key-a")
    assert [v.number for v in log.versions()] == [1, 2]
    assert log.source(1) == original and path.read_text() == edited
    assert v2.who == "key-a" and v2.fingerprint == load_rubric_file(path).fingerprint
    assert any(line.startswith("+description: Edited") for line in log.diff(2))
    log.save(log.source(1), "key-b", note="restore of v1")
    assert path.read_text() == original and log.versions()[-1].note == "restore of v1"
    # .history/ and no temporary file: the store loads the one rubric file only
    assert sorted(p.name for p in rubric_dir.iterdir()) == [".history", "bank.yaml"]
    assert len(RubricStore(rubric_dir)) == 1 and not RubricStore(rubric_dir).errors


def test_draft_problems_are_rubric_checks_own(rubric_dir: Path) -> None:
    path = rubric_dir / "bank.yaml"
    broken = path.read_text().replace(
        "rubric: Is this text about a lost", "rubrc: Is this text about a lost"
    )
    path.with_name("copy.yaml").write_text(broken)
    with pytest.raises(RubricInvalidError) as exc:
        load_rubric_file(path.with_name("copy.yaml"))
    checked = check_draft(broken, path.with_name("copy.yaml"), "bank")
    assert [p.text for p in checked.problems] == exc.value.problems
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if "rubrc:" in text)
    assert line in checked.lines() and not checked.ok
    renamed = check_draft(path.read_text().replace("name: bank", "name: other"), path, "bank")
    assert not renamed.ok and renamed.problems[0].line == 2


def test_a_keyless_gateway_opens_the_console_but_still_wants_the_csrf_token(
    tmp_path: Path, rubric_dir: Path, local_scorer: LocalScorer, spacy_model: SpacyModel
) -> None:
    settings = make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": rubric_dir},
        store={"data_dir": tmp_path / "data"},
    )
    app = with_console(create_app(settings, wait=True, local=local_scorer, nlp=spacy_model))
    with TestClient(app) as client:
        page = client.get("/ui/rubrics/bank")
        assert page.status_code == 200 and "open console" in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        source = (rubric_dir / "bank.yaml").read_text()
        refused = client.post("/ui/rubrics/bank/save", data={"source": source + "\n"})
        assert refused.status_code == 403
        saved = client.post(
            "/ui/rubrics/bank/save",
            data={"source": source + "\n# saved\n", "csrf": csrf.group(1)},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert (rubric_dir / "bank.yaml").read_text().endswith("# saved\n")

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.files import make_writable
from support.settings import make_settings
from support.wire_server import WireServer, guard_network, schema_filler

from gateway.config import PROJECT_ROOT, RetryPolicy, Settings
from gateway.redaction import SpacyModel, load_spacy_model
from gateway.scoring import LocalScorer, build_local_scorer
from gateway.server import create_app

RUBRICS = PROJECT_ROOT / "rubrics"


@pytest.fixture(scope="session")
def local_scorer() -> LocalScorer:
    """The real embedded model, loaded once per test session."""
    return build_local_scorer(Settings().local)


@pytest.fixture(scope="session")
def spacy_model() -> SpacyModel:
    """The real spaCy model for Presidio, loaded once per test session (as once per process)."""
    return load_spacy_model()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": RUBRICS},
        store={"data_dir": tmp_path / "data"},
    )


@pytest.fixture
def client(
    settings: Settings, local_scorer: LocalScorer, spacy_model: SpacyModel
) -> Iterator[TestClient]:
    app = create_app(settings, wait=True, local=local_scorer, nlp=spacy_model)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def server() -> Iterator[WireServer]:
    """One local OpenAI-wire server for the session; ``wire`` resets its script per test."""
    with WireServer() as running:
        yield running


@pytest.fixture
def wire(server: WireServer, monkeypatch: pytest.MonkeyPatch) -> WireServer:
    server.reset()
    guard_network(monkeypatch)
    return server


@pytest.fixture
def readonly_guard(tmp_path: Path) -> Iterator[list[Path]]:
    """Directories a test made read-only, made writable again so tmp_path can be removed."""
    dirs: list[Path] = []
    yield dirs
    for d in dirs:
        make_writable(d)


@pytest.fixture
def llm_client(
    wire: WireServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    local_scorer: LocalScorer,
    spacy_model: SpacyModel,
) -> Iterator[TestClient]:
    """The gateway on the LLM scorer, its provider the recording wire server (schema-filling
    answers, no retries), real Presidio, the result cache under ``tmp_path / "cache"``."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = schema_filler
    settings = make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": RUBRICS},
        scoring={"scorer": "llm"},
        provider={
            "model": "openai/test-model",
            "api_base": wire.url,
            "retry": RetryPolicy(max_retries=0),
        },
    )
    app = create_app(settings, wait=True, local=local_scorer, nlp=spacy_model)
    with TestClient(app) as client:
        yield client


def pytest_configure(config: pytest.Config) -> None:
    # Settings built without a store section keep their labelled-data store (SQLite) in a
    # directory of this session's, never in the checkout's .data/.
    os.environ.setdefault("GATEWAY_DATA_DIR", tempfile.mkdtemp(prefix="rubric-test-data-"))

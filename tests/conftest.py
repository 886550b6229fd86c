from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.settings import make_settings
from support.wire_server import WireServer, guard_network

from gateway.config import PROJECT_ROOT, Settings
from gateway.scoring.local import LocalScorer
from gateway.server.app import build_local_scorer, create_app

RUBRICS = PROJECT_ROOT / "rubrics"


@pytest.fixture(scope="session")
def local_scorer() -> LocalScorer:
    """The real embedded model, loaded once per test session."""
    return build_local_scorer(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(cache={"dir": tmp_path / "cache"}, rubrics={"dir": RUBRICS})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, wait=True)) as test_client:
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

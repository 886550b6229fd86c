from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.config import PROJECT_ROOT, Settings
from gateway.main import build_local_scorer, create_app
from gateway.scoring.local import LocalScorer

RUBRICS = PROJECT_ROOT / "rubrics"


@pytest.fixture(scope="session")
def local_scorer() -> LocalScorer:
    """The real embedded model, loaded once per test session."""
    return build_local_scorer(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", rubrics_dir=RUBRICS)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, wait=True)) as test_client:
        yield test_client

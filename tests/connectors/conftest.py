"""The gateway with helpdesk connections, against fake helpdesks on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from support.settings import make_settings

from gateway.config import PROJECT_ROOT, Settings
from gateway.redaction import SpacyModel
from gateway.scoring import LocalScorer
from gateway.server import create_app

sys.path.insert(0, str(Path(__file__).parent))  # the fakes beside the tests
from helpdesk_gateway import ENV, Gateway


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def make_gateway(
    tmp_path: Path, local_scorer: LocalScorer, spacy_model: SpacyModel
) -> Iterator[Any]:
    """``make_gateway(connections, **connector settings)``: a context manager giving a running
    gateway (the same store across calls: a restart)."""

    @contextmanager
    def make(
        connections: list[dict[str, Any]],
        database_url: str | None = None,
        redis: dict[str, Any] | None = None,
        **connectors: Any,
    ) -> Iterator[Gateway]:
        path = tmp_path / "connections.yaml"
        path.write_text(yaml.safe_dump({"connections": connections}))
        settings: Settings = make_settings(
            cache={"dir": tmp_path / "cache"},
            rubrics={"dir": PROJECT_ROOT / "rubrics"},
            store={"data_dir": tmp_path / "data", "database_url": database_url},
            redis=redis or {},
            connectors={
                "connections_file": path,
                "poll_s": 0.05,
                "backoff_s": 0.2,
                **connectors,
            },
        )
        app = create_app(settings, wait=True, local=local_scorer, nlp=spacy_model)
        with TestClient(app) as client:
            yield Gateway(client)

    return make

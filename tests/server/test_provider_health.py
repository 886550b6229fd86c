"""/healthz with a provider scorer says whether the provider answers and when it last did
(issue 17, item 6): probed at start-up (GET <api base>/models on the local OpenAI-wire server),
followed by every call, refreshed in the background; no request waits on a probe."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.settings import make_settings
from support.wire_server import Reply, WireServer, error, schema_filler

from gateway.config import PROJECT_ROOT, RetryPolicy, Settings
from gateway.server import create_app

TICKET = "I was charged twice for my subscription this month, please refund it."


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(tmp_path: Path, api_base: str, **provider: Any) -> Settings:
    return make_settings(
        cache={"enabled": False},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        provider={
            "model": "openai/test-model",
            "api_base": api_base,
            "retry": RetryPolicy(max_retries=0),
            "deadline_s": 10.0,
            **provider,
        },
        redaction={"enabled": False},
        scoring={"scorer": "llm"},
        store={"data_dir": tmp_path / "data"},
    )


@pytest.fixture
def app_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    @contextmanager
    def build(api_base: str, **provider: Any) -> Iterator[TestClient]:
        app = create_app(settings_for(tmp_path, api_base, **provider), wait=True)
        with TestClient(app) as client:
            yield client

    return build


def test_an_unreachable_provider_is_degraded_not_ready(app_for: Any, wire: WireServer) -> None:
    with app_for(f"http://127.0.0.1:{closed_port()}/v1") as client:
        health = client.get("/healthz")
        assert health.status_code == 200  # still serving: the outage is the provider's
        body = health.json()
        assert body["status"] == "degraded"
        assert body["startup_error"] is None
        provider = body["provider"]
        assert provider["reachable"] is False
        assert provider["last_seen_at"] is None  # never seen since start-up
        assert provider["error"] == "ConnectError"
        assert provider["checked_at"] is not None
        resp = client.post("/classify", json={"text": TICKET})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "provider_unavailable"


def test_a_reachable_provider_is_ready_and_last_seen(app_for: Any, wire: WireServer) -> None:
    wire.responder = schema_filler
    with app_for(wire.url, api_key="sk-probe") as client:
        body = client.get("/healthz").json()
        assert body["status"] == "ready"
        assert body["provider"]["reachable"] is True
        seen = datetime.fromisoformat(body["provider"]["last_seen_at"])
        (listing,) = wire.listings  # the start-up probe
        assert listing.path == "/v1/models"
        assert listing.headers["authorization"] == "Bearer sk-probe"
        assert wire.requests == []  # a probe is no completion: nothing billed
        assert client.post("/classify", json={"text": TICKET}).status_code == 200
        later = client.get("/healthz").json()["provider"]
        assert datetime.fromisoformat(later["last_seen_at"]) >= seen  # the call counts


def test_the_provider_going_down_and_coming_back(app_for: Any, wire: WireServer) -> None:
    wire.responder = schema_filler
    with app_for(wire.url) as client:
        seen = client.get("/healthz").json()["provider"]["last_seen_at"]
        wire.responder = lambda body: error(503)
        assert client.post("/classify", json={"text": TICKET}).status_code == 503
        down = client.get("/healthz").json()
        assert down["status"] == "degraded"
        assert down["provider"]["error"] == "HTTP 503"
        assert down["provider"]["last_seen_at"] == seen  # when it was last seen well
        wire.responder = schema_filler
        assert client.post("/classify", json={"text": TICKET}).status_code == 200
        assert client.get("/healthz").json()["status"] == "ready"


def test_healthz_never_waits_on_a_probe(app_for: Any, wire: WireServer) -> None:
    with app_for(wire.url, health_interval_s=0.05) as client:
        assert len(wire.listings) == 1
        wire.listing_reply = Reply(body={"object": "list", "data": []}, delay_s=3.0)
        time.sleep(0.1)  # the status is now stale: the next /healthz starts a probe
        started = time.monotonic()
        for _ in range(5):
            assert client.get("/healthz").json()["status"] == "ready"
        assert time.monotonic() - started < 1.5  # none of them waited 3 s
        deadline = time.monotonic() + 5
        while len(wire.listings) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(wire.listings) == 2  # one probe in the background, not one per request


def test_a_server_error_on_the_probe_is_degraded(app_for: Any, wire: WireServer) -> None:
    wire.listing_reply = Reply(status=503, body={"error": "loading model"})
    with app_for(wire.url) as client:
        body = client.get("/healthz").json()
        assert (body["status"], body["provider"]["error"]) == ("degraded", "HTTP 503")


def test_the_local_scorer_reports_no_provider(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert (body["status"], body["provider"]) == ("ready", None)

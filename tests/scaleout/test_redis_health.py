"""What an operator sees of Redis: ``/healthz`` (degraded, still 200, while it is down), the
``gateway_redis_up`` gauge and error counter in ``/metrics``, one warning a minute; and the
server's requests keep being answered, from the local cache and a per-process limit."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from support.redis_server import free_port, keys_under
from support.settings import make_settings

from gateway.config import PROJECT_ROOT, Settings
from gateway.scoring import LocalScorer
from gateway.server import create_app
from gateway.server.security import hash_key

KEY = "k-redis-health-0123"
TICKET = {"text": "I was charged twice this month for order 5521.", "rubric": "support"}


def settings_for(tmp_path: Path, url: str, prefix: str = "rubric-test-health:") -> Settings:
    return make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        store={"enabled": False},
        redaction={"enabled": False},
        access={"api_keys": [hash_key(KEY)], "rate_limit_per_minute": 3},
        redis={"url": url, "prefix": prefix},
    )


def test_redis_down_is_degraded_and_still_serves(
    tmp_path: Path, local_scorer: LocalScorer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    h = {"x-api-key": KEY}
    with (
        caplog.at_level(logging.WARNING, "gateway"),
        TestClient(create_app(settings, wait=True, local=local_scorer)) as client,
    ):
        health = client.get("/healthz")
        first = client.post("/classify", json=TICKET, headers=h)
        second = client.post("/classify", json=TICKET, headers=h)
        codes = [client.post("/classify", json=TICKET, headers=h).status_code for _ in range(2)]
        metrics = client.get("/metrics", headers=h).text
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    assert body["redis"]["up"] is False and body["redis"]["error"] == "ConnectionError"
    assert str(settings.redis.url) not in health.text
    assert first.status_code == second.status_code == 200
    assert second.json()["cached"] is True  # this replica's own cache
    assert codes == [200, 429]  # 3 a minute, per process
    assert "gateway_redis_up 0.0" in metrics
    assert 'gateway_redis_errors_total{op="check"}' in metrics
    assert caplog.text.count("redis unreachable") == 1


def test_redis_up_is_ready_and_holds_no_ticket_text(
    tmp_path: Path, local_scorer: LocalScorer, redis_url: str, redis_prefix: str
) -> None:
    settings = settings_for(tmp_path, redis_url, redis_prefix)
    h = {"x-api-key": KEY}
    with TestClient(create_app(settings, wait=True, local=local_scorer)) as client:
        health = client.get("/healthz").json()
        first = client.post("/classify", json=TICKET, headers=h).json()
        second = client.post("/classify", json=TICKET, headers=h).json()
        metrics = client.get("/metrics", headers=h).text
    assert health["status"] == "ready" and health["redis"]["up"] is True
    assert (first["cached"], second["cached"]) == (False, True)
    assert "gateway_redis_up 1.0" in metrics
    keys = keys_under(redis_url, redis_prefix)
    assert [k.split(":")[1] for k in keys] == ["ratelimit", "result"]
    assert hash_key(KEY)[:12] in keys[0] and hash_key(KEY) not in keys[0]
    client_ = redis.Redis.from_url(redis_url, decode_responses=True)
    entry = str(client_.get(keys[1]))
    # (the evidence names the rubric's own example "I was charged twice this month", which this
    # ticket happens to repeat: rubric text, not the ticket's)
    assert TICKET["text"] not in entry and "5521" not in entry


def test_without_redis_there_is_no_redis_gauge(client: TestClient) -> None:
    assert client.get("/healthz").json()["redis"] is None
    assert "gateway_redis_up" not in client.get("/metrics").text

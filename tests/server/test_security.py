"""API keys, rubric restrictions, rate limit, body size, timeout, loopback-only binding."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from support.settings import make_settings, override

from gateway.config import Settings
from gateway.errors import ConfigError, RateLimitedError
from gateway.rubrics import RubricSet
from gateway.scoring import ScoreResult
from gateway.server import create_app
from gateway.server.security import (
    Guard,
    KeyStore,
    TokenBucket,
    hash_key,
    load_keys,
    require_safe_bind,
)

TICKET = {"text": "I was charged twice this month.", "rubric": "support"}
KEY, LIMITED, OTHER = "k-full-0123456789", "k-limited-0123456789", "k-unknown-0123456789"


@pytest.fixture
def keyed(settings: Settings, tmp_path: Path) -> Settings:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text(f"# comment\n\n{hash_key(LIMITED)} support_lite, inline\n")
    return override(settings, access={"api_keys": [hash_key(KEY)], "api_keys_file": keys_file})


@pytest.fixture
def kclient(keyed: Settings) -> TestClient:
    with TestClient(create_app(keyed, wait=True)) as client:
        yield client  # type: ignore[misc]


def test_no_key_is_401(kclient: TestClient) -> None:
    r = kclient.post("/classify", json=TICKET)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    r = kclient.post("/classify", json=TICKET, headers={"x-api-key": OTHER})
    assert r.status_code == 401
    assert OTHER not in r.text
    r = kclient.post("/classify/batch", json={"items": [TICKET]})
    assert r.status_code == 401


def test_x_api_key_and_bearer_accepted(kclient: TestClient) -> None:
    assert kclient.post("/classify", json=TICKET, headers={"x-api-key": KEY}).status_code == 200
    auth = {"Authorization": f"Bearer {KEY}"}
    assert kclient.post("/classify", json=TICKET, headers=auth).status_code == 200
    r = kclient.post("/classify/batch", json={"items": [TICKET]}, headers=auth)
    assert r.status_code == 200 and r.json()["ok"] == 1


def test_key_restricted_to_rubric_sets_is_403_elsewhere(kclient: TestClient) -> None:
    h = {"x-api-key": LIMITED}
    r = kclient.post("/classify", json=TICKET, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = kclient.post("/classify", json={"text": "x y z"}, headers=h)  # the default rubric
    assert r.status_code == 403
    r = kclient.post("/classify/batch", json={"items": [TICKET]}, headers=h)
    assert r.status_code == 403
    labels = [{"name": "billing", "rubric": "Billing?"}, {"name": "other", "rubric": "Other?"}]
    inline = {"text": "refund please", "labels": labels}
    assert kclient.post("/classify", json=inline, headers=h).status_code == 200


def test_open_routes_need_no_key(kclient: TestClient) -> None:
    assert kclient.get("/healthz").status_code == 200
    assert kclient.get("/metrics").status_code == 200


def test_lookup_compares_digests() -> None:
    store = KeyStore(load_keys(make_settings(access={"api_keys": [hash_key(KEY).upper()]})))
    assert store.lookup(KEY) is not None
    assert store.lookup(KEY + "x") is None
    assert store.lookup(hash_key(KEY)) is None  # the digest itself is not a key


def test_bad_digest_is_a_config_error_without_echo() -> None:
    with pytest.raises(ConfigError) as err:
        load_keys(make_settings(access={"api_keys": ["my-plaintext-key"]}))
    assert "my-plaintext-key" not in err.value.message


def test_rate_limit_429_with_retry_after(keyed: Settings) -> None:
    settings = override(keyed, access={"rate_limit_per_minute": 3})
    with TestClient(create_app(settings, wait=True)) as client:
        codes = [
            client.post("/classify", json=TICKET, headers={"x-api-key": KEY}).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = client.post("/classify", json=TICKET, headers={"x-api-key": KEY})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 20
        # Buckets are per key: another key is not affected.
        r = client.post(
            "/classify", json={**TICKET, "labels": None}, headers={"x-api-key": LIMITED}
        )
        assert r.status_code == 403  # authenticated and not rate limited; then forbidden


def test_rate_limit_refusal_is_reported_to_the_observer(settings: Settings) -> None:
    class Recording:
        refused = 0

        def rate_limited(self) -> None:
            self.refused += 1

    observer = Recording()
    guard = Guard(override(settings, access={"rate_limit_per_minute": 1}), observer=observer)
    request = Request({"type": "http", "headers": [], "client": ("127.0.0.1", 5000)})
    try:
        assert guard.authenticate(request).id == "anonymous:127.0.0.1"
        with pytest.raises(RateLimitedError):
            guard.authenticate(request)
    finally:
        guard.close()
    assert observer.refused == 1


def test_token_bucket_refills() -> None:
    bucket = TokenBucket(per_minute=600)  # 10 a second
    assert all(bucket.take("a") == 0 for _ in range(600))
    wait = bucket.take("a")
    assert 0 < wait <= 0.11
    time.sleep(wait + 0.01)
    assert bucket.take("a") == 0


def test_body_size_limit_413(settings: Settings) -> None:
    small = override(settings, server={"max_request_bytes": 2048})
    with TestClient(create_app(small, wait=True)) as client:
        r = client.post("/classify", json={"text": "x" * 4000})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "request_too_large"
        assert "x" * 50 not in r.text

        def chunks():  # no content-length: the streamed-body path
            for _ in range(10):
                yield b"x" * 1000

        r = client.post("/classify", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert client.post("/classify", json=TICKET).status_code == 200


def test_request_timeout_504(settings: Settings) -> None:
    class Hanging:
        name, model, prompt, fingerprint, batches = "slow", "slow", None, "0", False

        async def score_many(
            self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
        ) -> list[ScoreResult]:
            await asyncio.sleep(30)
            raise AssertionError

    fast = override(settings, server={"request_timeout_s": 0.5})
    with TestClient(create_app(fast, wait=True, scorer=Hanging())) as client:
        started = time.perf_counter()
        r = client.post("/classify", json=TICKET)
        assert r.status_code == 504
        assert r.json()["error"]["code"] == "timeout"
        assert time.perf_counter() - started < 5
        assert client.get("/healthz").status_code == 200


def test_no_keys_means_loopback_only(keyed: Settings) -> None:
    bare = Settings()
    require_safe_bind(bare, "127.0.0.1")
    require_safe_bind(bare, "::1")
    require_safe_bind(bare, "localhost")
    for host in ("0.0.0.0", "10.1.2.3", "example.com"):
        with pytest.raises(ConfigError):
            require_safe_bind(bare, host)
    require_safe_bind(keyed, "0.0.0.0")  # with keys any address is allowed


def test_cli_serve_refuses_public_host_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app

    monkeypatch.delenv("GATEWAY_API_KEYS", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2
    assert "refusing to bind" in result.output


def test_startup_log_says_loopback_only(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.INFO, "gateway"), TestClient(create_app(settings, wait=True)):
        pass
    assert "no API keys configured" in caplog.text and "127.0.0.1" in caplog.text

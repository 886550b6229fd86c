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

from gateway.config import PROJECT_ROOT, Settings
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

RUBRICS = PROJECT_ROOT / "rubrics"
TICKET = {"text": "I was charged twice this month.", "rubric": "support"}
KEY, LIMITED, OTHER = "k-full-0123456789", "k-limited-0123456789", "k-unknown-0123456789"


def _keys_file(directory: Path) -> Path:
    keys_file = directory / "keys.txt"
    keys_file.write_text(f"# comment\n\n{hash_key(LIMITED)} support_lite, inline\n")
    return keys_file


@pytest.fixture
def keyed(settings: Settings, tmp_path: Path) -> Settings:
    keys_file = _keys_file(tmp_path)
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


def test_only_healthz_is_open_on_a_keyed_gateway(kclient: TestClient) -> None:
    assert kclient.get("/healthz").status_code == 200  # load balancers
    for path in ("/rubrics", "/openapi.json", "/docs", "/redoc", "/metrics"):
        r = kclient.get(path)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized", path
        assert kclient.get(path, headers={"x-api-key": OTHER}).status_code == 401, path
    h = {"x-api-key": KEY}
    assert "/classify" in kclient.get("/openapi.json", headers=h).json()["paths"]
    for path in ("/docs", "/redoc"):
        r = kclient.get(path, headers=h)
        assert r.status_code == 200 and "/openapi.json" in r.text, path
    assert kclient.get("/rubrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_keyless_gateway_keeps_its_routes_open(settings: Settings) -> None:
    with TestClient(create_app(settings, wait=True)) as client:
        for path in ("/rubrics", "/openapi.json", "/docs", "/redoc", "/metrics", "/healthz"):
            assert client.get(path).status_code == 200, path
        assert client.get("/openapi.json").json()["info"]["title"] == "rubric-gateway"


def test_rubric_listing_shows_a_key_its_sets_and_no_server_paths(tmp_path: Path) -> None:
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    source = (RUBRICS / "support.yaml").read_text()
    (rubrics / "support.yaml").write_text(source)
    (rubrics / "lite.yaml").write_text(source.replace("name: support", "name: support_lite"))
    (rubrics / "broken.yaml").write_text("name: broken\naxes:\n  category: {labels: [1, 2]}\n")
    settings = make_settings(
        rubrics={"dir": rubrics, "reload_interval_s": 0},
        cache={"dir": tmp_path / "cache"},
        access={"api_keys": [hash_key(KEY)], "api_keys_file": _keys_file(tmp_path)},
    )
    with TestClient(create_app(settings, wait=True)) as client:
        full = client.get("/rubrics", headers={"x-api-key": KEY})
        assert [r["name"] for r in full.json()["rubrics"]] == ["support", "support_lite"]
        (problems,) = full.json()["errors"].values()
        assert list(full.json()["errors"]) == ["broken.yaml"]
        assert problems[0].startswith("broken.yaml:3: axes.category.labels[0]")
        assert str(tmp_path) not in full.text
        limited = client.get("/rubrics", headers={"x-api-key": LIMITED}).json()
        assert [r["name"] for r in limited["rubrics"]] == ["support_lite"]
        assert limited["errors"] == {}  # broken.yaml is no set of this key's
        # a set of its own that stops parsing: its problems are the key's to see
        (rubrics / "lite.yaml").write_text("name: support_lite\naxes: {}\n")
        limited = client.get("/rubrics", headers={"x-api-key": LIMITED}).json()
        assert [r["name"] for r in limited["rubrics"]] == ["support_lite"]  # the last good one
        assert list(limited["errors"]) == ["lite.yaml"]
        assert limited["errors"]["lite.yaml"][0].startswith("lite.yaml:")
        assert str(tmp_path) not in client.get("/rubrics", headers={"x-api-key": KEY}).text


def test_metrics_take_a_scrape_key_or_an_unrestricted_api_key(keyed: Settings) -> None:
    scrape = "k-scrape-0123456789"
    settings = override(keyed, access={"metrics_keys": [hash_key(scrape)]})
    with TestClient(create_app(settings, wait=True)) as client:
        assert client.get("/metrics", headers={"x-api-key": scrape}).status_code == 200
        bearer = {"Authorization": f"Bearer {scrape}"}
        assert "gateway_" in client.get("/metrics", headers=bearer).text
        assert client.get("/metrics", headers={"x-api-key": KEY}).status_code == 200
        r = client.get("/metrics", headers={"x-api-key": LIMITED})  # sees only some sets
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert client.get("/metrics").status_code == 401
        # a scrape key opens nothing else
        assert (
            client.post("/classify", json=TICKET, headers={"x-api-key": scrape}).status_code == 401
        )
        assert client.get("/rubrics", headers={"x-api-key": scrape}).status_code == 401
        assert scrape not in r.text and hash_key(scrape) not in r.text


def test_scrape_keys_alone_close_only_metrics(settings: Settings) -> None:
    scrape = "k-scrape-0123456789"
    only_scrape = override(settings, access={"metrics_keys": [hash_key(scrape)]})
    require_safe_bind(only_scrape, "127.0.0.1")
    with pytest.raises(ConfigError):
        require_safe_bind(only_scrape, "0.0.0.0")  # still no API keys
    with TestClient(create_app(only_scrape, wait=True)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"x-api-key": scrape}).status_code == 200
        assert client.post("/classify", json=TICKET).status_code == 200
    with pytest.raises(ConfigError) as err:
        Guard(override(settings, access={"metrics_keys": ["plain-scrape-key"]}))
    assert "GATEWAY_METRICS_KEYS[0]" in err.value.message
    assert "plain-scrape-key" not in err.value.message


def test_healthz_says_why_start_up_failed_only_to_a_key(keyed: Settings, tmp_path: Path) -> None:
    # a provider scorer whose prompt cannot be found: start-up fails, /healthz says "failed"
    broken = override(
        keyed,
        scoring={"scorer": "llm", "prompts_dir": tmp_path / "no-prompts-here"},
        provider={"model": "openai/never-called"},
    )
    with TestClient(create_app(broken, wait=True)) as client:
        reason = client.app.state.gateway.startup_error  # type: ignore[attr-defined]
        assert reason
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "failed"
        assert r.json()["startup_error"] != reason
        assert "server log" in r.json()["startup_error"]
        assert "no-prompts-here" not in r.text and str(tmp_path) not in r.text
        r = client.get("/healthz", headers={"x-api-key": KEY})
        assert r.json()["startup_error"] == reason
        assert (
            client.get("/healthz", headers={"x-api-key": OTHER}).json()["startup_error"] != reason
        )


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
        assert asyncio.run(guard.authenticate(request)).id == "anonymous:127.0.0.1"
        with pytest.raises(RateLimitedError):
            asyncio.run(guard.authenticate(request))
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


def test_an_unauthenticated_caller_learns_nothing_of_the_start_up(keyed: Settings) -> None:
    # the key is checked before readiness: no 503 with its reason to a caller without a key
    class Refused:
        name, model, prompt, fingerprint, batches = "llm", "nope/model", None, "0", False

        async def check(self) -> None:
            raise ConfigError("the provider refused model 'nope/model'")

        async def score_many(self, *args: object) -> list[object]:
            raise AssertionError("never scored")

    with TestClient(create_app(keyed, wait=True, scorer=Refused())) as client:
        assert client.get("/healthz").json()["status"] == "failed"
        r = client.post("/classify", json={"text": "I was charged twice"})
        assert r.status_code == 401
        assert "nope" not in r.text
        r = client.post("/classify/batch", json={"items": [{"text": "x"}]})
        assert r.status_code == 401

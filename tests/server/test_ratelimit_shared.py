"""The per-key rate limit holds across processes: its token buckets live in a diskcache
directory (``<cache_dir>/ratelimit``) that every worker shares; an unusable store degrades to
the in-process bucket with a warning, never a 500."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from support.files import make_readonly
from support.settings import override
from test_load_faults import _children
from test_metrics_multiprocess import _only

from gateway.config import Settings
from gateway.server import create_app
from gateway.server.security import SharedTokenBucket, hash_key

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from load import free_port, start_server

KEY = "k-shared-0123456789"
TICKET = {"text": "I was charged twice this month.", "rubric": "support"}


def test_two_limiters_on_one_directory_share_the_limit(tmp_path: Path) -> None:
    # Two instances on one directory, as two worker processes would have.
    a = SharedTokenBucket(5, tmp_path / "ratelimit")
    b = SharedTokenBucket(5, tmp_path / "ratelimit")
    assert a.shared and b.shared
    waits = [(a if i % 2 else b).take("key1") for i in range(8)]
    assert waits[:5] == [0.0] * 5  # one bucket of 5 between them, not 5 each
    assert all(0 < w <= 12.0 for w in waits[5:])  # 5 a minute: one token per 12 s
    assert a.take("key2") == 0.0  # buckets are per key
    a.close()
    b.close()


def test_shared_bucket_refills(tmp_path: Path) -> None:
    a = SharedTokenBucket(600, tmp_path / "ratelimit")  # 10 a second
    b = SharedTokenBucket(600, tmp_path / "ratelimit")
    started = time.monotonic()
    allowed = 0
    while (wait := (a, b)[allowed % 2].take("k")) == 0:
        allowed += 1
        assert allowed < 2000
    # A full bucket of 600, plus what came back while ~1 ms transactions ran.
    assert 600 <= allowed <= 600 + (time.monotonic() - started) * 10 + 1
    assert 0 < wait <= 0.11
    time.sleep(wait + 0.02)
    assert a.take("k") == 0


def test_store_holds_key_digests_only(settings: Settings) -> None:
    limited = override(settings, access={"api_keys": [hash_key(KEY)], "rate_limit_per_minute": 2})
    with TestClient(create_app(limited, wait=True)) as client:
        codes = [
            client.post("/classify", json=TICKET, headers={"x-api-key": KEY}).status_code
            for _ in range(3)
        ]
    assert codes == [200, 200, 429]
    stored = b"".join(
        p.read_bytes() for p in (settings.cache.dir / "ratelimit").rglob("*") if p.is_file()
    )
    assert hash_key(KEY)[:12].encode() in stored  # the bucket is there, under the key's id
    assert KEY.encode() not in stored
    assert hash_key(KEY).encode() not in stored  # not even the full digest
    assert TICKET["text"].encode() not in stored


def test_corrupt_store_degrades_to_per_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "ratelimit"
    directory.mkdir()
    (directory / "cache.db").write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.WARNING, "gateway"):
        bucket = SharedTokenBucket(2, directory)
    assert not bucket.shared
    assert "shared rate-limit store" in caplog.text and "unusable" in caplog.text
    assert [bucket.take("k") == 0 for _ in range(3)] == [True, True, False]


def test_read_only_store_never_500s(
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    readonly_guard: list[Path],
) -> None:
    limited = override(settings, access={"api_keys": [hash_key(KEY)], "rate_limit_per_minute": 3})
    h = {"x-api-key": KEY}
    with (
        caplog.at_level(logging.WARNING, "gateway"),
        TestClient(create_app(limited, wait=True)) as client,
    ):
        assert client.post("/classify", json=TICKET, headers=h).status_code == 200
        directory = settings.cache.dir / "ratelimit"
        make_readonly(directory)
        readonly_guard.append(directory)
        codes = [client.post("/classify", json=TICKET, headers=h).status_code for _ in range(4)]
    # The in-process fallback starts its own full bucket: limited still, and never a 500.
    assert codes == [200, 200, 200, 429]
    assert "shared rate-limit store failed" in caplog.text
    assert caplog.text.count("shared rate-limit store failed") == 1  # once a minute


# ---------------------------------------------------------------- two real worker processes


async def _spray(base: str, n: int) -> list[httpx.Response]:
    """n concurrent requests, a fresh connection each, so any worker may accept each one."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        calls = [
            client.post("/classify", json=TICKET, headers={"x-api-key": KEY}) for _ in range(n)
        ]
        return await asyncio.wait_for(asyncio.gather(*calls), timeout=20)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_limit_holds_across_two_uvicorn_workers(tmp_path: Path) -> None:
    limit = 6  # a minute: one token back every 10 s
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "GATEWAY_API_KEYS": f'["{hash_key(KEY)}"]',
        "GATEWAY_RATE_LIMIT_PER_MINUTE": str(limit),
        "GATEWAY_REDACT": "false",  # spaCy would only slow the start
        "TMPDIR": str(tmp_path),
    }
    server = start_server(port, 2, tmp_path / "cache", tmp_path / "server.log", env=env)
    try:
        deadline = time.monotonic() + 25
        workers: list[int] = []
        while len(workers) < 2:
            assert time.monotonic() < deadline, "workers never started"
            time.sleep(0.1)
            workers = _children(server.pid)
        # Each worker listens only once its model has loaded: wait until both answer.
        for worker in workers:
            while True:
                with _only(worker, workers):
                    try:
                        if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                assert time.monotonic() < deadline, (worker, (tmp_path / "server.log").read_text())
                time.sleep(0.2)

        started = time.monotonic()
        responses: list[httpx.Response] = []
        # Four through each worker in turn (the other one stopped, so it cannot accept):
        # per-process buckets would answer all eight with 200.
        for worker in workers:
            for _ in range(4):
                with _only(worker, workers):
                    responses.append(
                        httpx.post(f"{base}/classify", json=TICKET, headers={"x-api-key": KEY})
                    )
        # Then concurrent requests spread over both workers by the kernel.
        responses += asyncio.run(_spray(base, 12))
        elapsed = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)

    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, codes
    assert codes[:6] == [200] * 6, codes
    refilled = int(elapsed * limit / 60)  # tokens that came back while the test ran
    assert codes.count(200) <= limit + refilled, (codes, elapsed)
    assert codes.count(429) >= len(codes) - limit - refilled
    for r in responses:
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(r.headers["retry-after"]) <= 10
    assert (tmp_path / "cache" / "ratelimit" / "cache.db").is_file()  # the shared state

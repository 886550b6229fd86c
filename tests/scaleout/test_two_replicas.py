"""Two real gateway processes (separate cache directories, one Redis): what a load balancer in
front of them must be able to count on. Each replica is ``python -m gateway.cli serve``.

- a cache hit crosses replicas;
- 20 identical concurrent misses split across both make one provider call (recording wire
  server, LLM scorer);
- a key limited to 6 a minute gets 6 × 200 across both, the rest 429 with Retry-After;
- Redis killed mid-load (a server this test starts itself) → no 5xx, degraded in /healthz and
  /metrics, one warning; then back to Redis when it returns.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.redis_server import OwnRedis, delete_prefix, free_port, unique_prefix
from support.replicas import Replica, start_pair
from support.wire_server import Body, Reply, WireServer, schema_filler

from gateway.server.security import hash_key

pytestmark = pytest.mark.slow

HIT_KEY = "k-replicas-hit-0123"
LIMIT_KEY = "k-replicas-limit-0123"
LIMIT = 6  # a minute: one token back every 10 s


def local_env(url: str, prefix: str) -> dict[str, str]:
    return {
        "GATEWAY_REDIS_URL": url,
        "GATEWAY_REDIS_PREFIX": prefix,
        "GATEWAY_STORE_ENABLED": "false",  # the store is another part of issue 18
        "GATEWAY_REDACT": "false",  # spaCy would only slow the start
    }


def ticket(text: str) -> dict[str, str]:
    return {"text": text, "rubric": "support"}


@pytest.fixture(scope="module")
def keyed_pair(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[list[Replica]]:
    """Two replicas on the local scorer, two keys, 6 requests a minute per key."""
    prefix = unique_prefix()
    env = {
        **local_env(redis_url, prefix),
        "GATEWAY_API_KEYS": json.dumps([hash_key(HIT_KEY), hash_key(LIMIT_KEY)]),
        "GATEWAY_RATE_LIMIT_PER_MINUTE": str(LIMIT),
    }
    pair = start_pair(tmp_path_factory.mktemp("keyed"), env, (free_port(), free_port()))
    yield pair
    for replica in pair:
        replica.stop()
    delete_prefix(redis_url, prefix)


def test_a_cache_hit_crosses_replicas(keyed_pair: list[Replica]) -> None:
    a, b = keyed_pair
    h = {"x-api-key": HIT_KEY}
    body = ticket("My invoice shows a charge for a plan I cancelled last month.")
    first = httpx.post(f"{a.base}/classify", json=body, headers=h, timeout=30)
    second = httpx.post(f"{b.base}/classify", json=body, headers=h, timeout=30)
    assert first.status_code == second.status_code == 200
    assert first.json()["cached"] is False
    assert second.json()["cached"] is True  # written by a, read by b
    assert second.json()["scores"] == first.json()["scores"]


async def _spray(
    replicas: list[Replica], n: int, body: dict[str, str], key: str | None
) -> list[httpx.Response]:
    """n concurrent requests, split evenly over the replicas."""
    headers = {"x-api-key": key} if key else {}
    async with httpx.AsyncClient(timeout=30) as client:
        calls = [
            client.post(f"{replicas[i % len(replicas)].base}/classify", json=body, headers=headers)
            for i in range(n)
        ]
        return await asyncio.wait_for(asyncio.gather(*calls), timeout=60)


def test_a_key_gets_its_limit_across_both_replicas(keyed_pair: list[Replica]) -> None:
    started = time.monotonic()
    responses = asyncio.run(_spray(keyed_pair, 14, ticket("Where is my parcel?"), LIMIT_KEY))
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in responses]
    refilled = int(elapsed * LIMIT / 60)  # tokens that came back while the test ran
    assert set(codes) <= {200, 429}, codes
    assert codes.count(200) == LIMIT + refilled, (codes, elapsed)  # not 6 per replica
    for r in responses:
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(r.headers["retry-after"]) <= 10


# ---------------------------------------------------------------- one provider call for 20


def test_identical_concurrent_misses_make_one_provider_call(
    tmp_path: Path, server: WireServer, redis_url: str, redis_prefix: str
) -> None:
    server.reset()

    def slow(request: Body) -> Reply:
        reply = schema_filler(request)
        reply.delay_s = 0.5  # long enough for all 20 to arrive while the first is scored
        return reply

    server.responder = slow
    env = {
        **local_env(redis_url, redis_prefix),
        "GATEWAY_SCORER": "llm",
        "GATEWAY_MODEL": "openai/test-model",
        "GATEWAY_API_BASE": server.url,
        "OPENAI_API_KEY": "sk-test",
        "GATEWAY_MAX_RETRIES": "0",
    }
    pair = start_pair(tmp_path, env, (free_port(), free_port()))
    try:
        server.requests.clear()  # the start-up checks' calls
        body = ticket("The export button does nothing since this morning's update.")
        responses = asyncio.run(_spray(pair, 20, body, None))
        calls_for_20 = len(server.requests)
        server.requests.clear()
        one = httpx.post(f"{pair[0].base}/classify", json=ticket("A different ticket."), timeout=30)
        calls_for_1 = len(server.requests)
    finally:
        for replica in pair:
            replica.stop()
        server.reset()
    assert [r.status_code for r in responses] == [200] * 20
    assert one.status_code == 200
    assert calls_for_1 >= 1
    assert calls_for_20 == calls_for_1  # 20 requests on two replicas: one ticket's calls
    assert len({json.dumps(r.json()["scores"], sort_keys=True) for r in responses}) == 1


# ---------------------------------------------------------------- Redis killed mid-load


class Load:
    """Requests in a background thread, round-robin over the replicas, until stopped: a few
    repeated tickets (cache hits) and fresh ones (misses). Records every status code."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self.codes: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                text = f"Refund request number {i % 7}" if i % 2 else f"Fresh ticket {i}"
                base = self.replicas[i % len(self.replicas)].base
                try:
                    self.codes.append(
                        client.post(f"{base}/classify", json=ticket(text)).status_code
                    )
                except httpx.HTTPError as exc:
                    self.errors.append(type(exc).__name__)
                i += 1

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_for(self, n: int, timeout_s: float = 30) -> None:
        target = len(self.codes) + n
        deadline = time.monotonic() + timeout_s
        while len(self.codes) < target:
            assert time.monotonic() < deadline, "the load stalled"
            time.sleep(0.05)


def _until(replicas: list[Replica], up: bool, timeout_s: float = 15) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout_s
    while True:
        bodies = []
        for replica in replicas:
            r = httpx.get(f"{replica.base}/healthz", timeout=5)
            assert r.status_code == 200, r.text
            bodies.append(r.json())
        if all(b["redis"]["up"] is up for b in bodies):  # type: ignore[index]
            return bodies
        assert time.monotonic() < deadline, bodies
        time.sleep(0.1)


def test_redis_killed_mid_load_no_5xx_then_recovery(tmp_path: Path) -> None:
    redis_server = OwnRedis(tmp_path).start()
    env = {**local_env(redis_server.url, "rubric-kill:"), "GATEWAY_REDIS_CHECK_INTERVAL_S": "0.5"}
    pair: list[Replica] = []
    try:
        pair = start_pair(tmp_path, env, (free_port(), free_port()))
        with Load(pair) as load:
            load.wait_for(40)
            redis_server.kill()  # SIGKILL: as a crash would
            load.wait_for(40)
            during = _until(pair, up=False)
            metrics = [httpx.get(f"{r.base}/metrics", timeout=5).text for r in pair]
            load.wait_for(40)
            redis_server.start()  # the same port, empty
            _until(pair, up=True)
            load.wait_for(40)
        # back on Redis: a hit crosses replicas again
        body = ticket("After the outage: is my subscription still active?")
        first = httpx.post(f"{pair[0].base}/classify", json=body, timeout=30).json()
        second = httpx.post(f"{pair[1].base}/classify", json=body, timeout=30).json()
        logs = [r.output(tail=None) for r in pair]
    finally:
        for replica in pair:
            replica.stop()
        redis_server.stop()
    assert load.errors == []
    assert load.codes and set(load.codes) == {200}, sorted(set(load.codes))
    assert all(b["status"] == "degraded" for b in during)
    assert all("gateway_redis_up 0.0" in m for m in metrics)
    assert (first["cached"], second["cached"]) == (False, True)
    for log in logs:
        warnings = [line for line in log.splitlines() if "redis unreachable" in line]
        assert len(warnings) == 1, warnings  # one warning, not one a request
        assert "redis answers again" in log

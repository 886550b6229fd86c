"""Fault tests against real uvicorn processes on 127.0.0.1 (bounded: small counts, deadlines)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from load import free_port, start_server, wait_ready
from test_cache import make_readonly, make_writable

TEXT = "I was charged twice this month. Order #12345."


def _children(pid: int) -> list[int]:
    """uvicorn's worker processes (spawned), not multiprocessing's resource tracker."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(x) for x in path.read_text().split()] if path.exists() else []
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


async def _fire(base: str, n: int, concurrency: int, on_start: dict[int, float]) -> list[object]:
    """n requests, a fresh connection each (no keep-alive), so a connection belongs to
    whichever worker accepted it. Returns the status code or the exception name per request."""
    out: list[object] = [None] * n
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            async with sem:
                on_start[i] = time.monotonic()
                try:
                    r = await client.post("/classify", json={"text": f"{TEXT} ref {i}"})
                    out[i] = r.status_code
                except httpx.HTTPError as exc:
                    out[i] = type(exc).__name__

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=120)
    return out


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
@pytest.mark.skip(
    reason="failed on a clean clone under load; under investigation (see the issue-6 note)"
)
def test_killing_a_worker_loses_no_other_request(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, 2, tmp_path / "cache", tmp_path / "server.log")
    try:
        wait_ready(base)
        deadline = time.monotonic() + 60
        while len(_children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(server.pid)
        assert len(workers) == 2, workers
        # Both workers must be serving before the kill, or the kill tests nothing.
        for _ in range(10):
            httpx.post(f"{base}/classify", json={"text": TEXT}, timeout=30)
        started: dict[int, float] = {}

        async def scenario() -> tuple[list[object], float]:
            load = asyncio.create_task(_fire(base, 120, 8, started))
            await asyncio.sleep(1.0)
            killed_at = time.monotonic()
            os.kill(workers[0], signal.SIGKILL)
            return await load, killed_at

        outcomes, killed_at = asyncio.run(scenario())
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    failed = [i for i, o in enumerate(outcomes) if o != 200]
    print(
        f"killed worker {workers[0]}: {len(failed)} of {len(outcomes)} failed: "
        f"{[outcomes[i] for i in failed]}"
    )
    # Only requests in flight on the killed worker may fail (at most the concurrency), as
    # connection errors, never as an HTTP error; everything started after the kill succeeds.
    assert len(failed) <= 8
    assert all(isinstance(outcomes[i], str) for i in failed)
    assert all(started[i] <= killed_at + 0.05 for i in failed)
    assert sum(1 for i, o in enumerate(outcomes) if o == 200 and started[i] > killed_at) > 0


def test_cache_made_read_only_mid_load_degrades(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cache_dir = tmp_path / "cache"
    log = tmp_path / "server.log"
    server = start_server(port, 1, cache_dir, log)
    try:
        wait_ready(base)
        started: dict[int, float] = {}

        async def scenario() -> list[object]:
            load = asyncio.create_task(_fire(base, 80, 4, started))
            await asyncio.sleep(0.8)
            make_readonly(cache_dir)
            return await load

        try:
            outcomes = asyncio.run(scenario())
            assert server.poll() is None, "the worker died"
            repeat = httpx.post(f"{base}/classify", json={"text": TEXT}, timeout=30)
        finally:
            make_writable(cache_dir)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert outcomes == [200] * len(outcomes)
    assert repeat.status_code == 200
    text = log.read_text()
    assert "result cache" in text and "failed" in text, text[-2000:]

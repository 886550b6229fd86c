"""/metrics under ``rubric serve --workers 2``: every worker's requests, whichever worker answers.

A real server process on 127.0.0.1. Which worker answers is made certain, not left to the
kernel: the other worker is stopped (SIGSTOP) for the length of one request, so it cannot accept.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from test_load_faults import TEXT, _children
from test_telemetry import _value

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from load import ROOT, free_port, wait_ready

CLASSIFIED = {"route": "/classify", "status": "200"}


@contextmanager
def _only(serving: int, workers: list[int]) -> Iterator[None]:
    """Every other worker stopped: new connections can only be accepted by ``serving``.
    Kept short: uvicorn kills a worker that misses its 5 s health ping."""
    others = [w for w in workers if w != serving]
    for w in others:
        os.kill(w, signal.SIGSTOP)
    try:
        yield
    finally:
        for w in others:
            os.kill(w, signal.SIGCONT)


def _worker_count(metrics_dir: Path, pid: int, scratch: Path) -> float:
    """One worker's own ``gateway_requests_total`` for /classify 200, from its files alone."""
    own = scratch / str(pid)
    own.mkdir(parents=True)
    for f in metrics_dir.glob(f"*_{pid}.db"):
        shutil.copy(f, own)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(own))
    return _value(generate_latest(registry).decode(), "gateway_requests_total", **CLASSIFIED)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc")
def test_metrics_count_every_workers_requests(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GATEWAY_CACHE_DIR": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the CLI makes its own (under TMPDIR)
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", "2"]
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(base)
        deadline = time.monotonic() + 60
        while len(_children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(server.pid)
        assert len(workers) == 2, workers
        (metrics_dir,) = tmp_path.glob("rubric-metrics-*")
        # Each worker listens only once its model has loaded (gateway.asgi): wait for both.
        for worker in workers:
            while True:
                with _only(worker, workers):
                    try:
                        if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                            break
                    except httpx.TimeoutException:
                        pass
                assert time.monotonic() < deadline, f"worker {worker} never became ready"
                time.sleep(0.5)

        sent = {workers[0]: 7, workers[1]: 4}
        for worker, n in sent.items():
            for i in range(n):
                with _only(worker, workers):
                    r = httpx.post(f"{base}/classify", json={"text": f"{TEXT} {i}"}, timeout=30)
                assert r.status_code == 200
        # The requests went where they were sent, and each worker's files hold its own share
        # (counted just after the response is sent: allow the worker a moment).
        for worker, n in sent.items():
            counted = 0.0
            for attempt in range(50):
                counted = _worker_count(metrics_dir, worker, tmp_path / f"scratch{attempt}")
                if counted == n:
                    break
                time.sleep(0.1)
            assert counted == n, (worker, counted, n)

        # A scrape answered by either worker counts both workers' requests.
        total = sum(sent.values())
        scrapes = []
        for worker in [*workers, *workers]:
            with _only(worker, workers):
                scrapes.append(httpx.get(f"{base}/metrics", timeout=10).text)
        assert [_value(s, "gateway_requests_total", **CLASSIFIED) for s in scrapes] == [total] * 4
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert not metrics_dir.exists()  # the CLI's own directory is removed on exit

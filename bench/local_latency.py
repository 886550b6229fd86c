"""Embedded-model performance over real HTTP: start-up, latency, batch throughput, memory.

Starts `uvicorn` on 127.0.0.1 (a free port) in a subprocess with the bundled rubrics and the
result cache off (so every request is scored), then measures:
  * start-up to ready: process start until GET /healthz answers "ready";
  * /classify latency, sequential, p50/p95 (tickets: BANKING77 test texts);
  * /classify/batch throughput (batches of 256);
  * resident memory of the server process (VmRSS) after the load.

    .venv/bin/python bench/local_latency.py [--requests 300] [--batches 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "banking77" / "test.jsonl"
FALLBACK = [
    "I was charged twice for my subscription this month. Please refund the duplicate charge.",
    "The app crashes every time I open settings after the update",
    "Where is my package? Tracking says delivered but nothing arrived.",
    "How do I reset my password?",
]


def tickets() -> list[str]:
    if DATA.exists():
        return [json.loads(line)["text"] for line in DATA.open()]
    return FALLBACK * 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """``rubric serve`` on a free port, result cache off; returns once /healthz says ready."""
    port = free_port()
    env = {**os.environ, "GATEWAY_CACHE_ENABLED": "false", "GATEWAY_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=5).json().get("status") == "ready":
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    server.terminate()
    raise SystemExit("server did not become ready in 60 s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()

    started = time.perf_counter()
    server, base = start_server()
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            ready_s = time.perf_counter() - started

            texts = tickets()
            for text in texts[:20]:  # warm-up: first-call allocations, label embeddings
                client.post("/classify", json={"text": text})
            latencies = []
            for text in texts[20 : 20 + args.requests]:
                t0 = time.perf_counter()
                resp = client.post("/classify", json={"text": text, "rubric": "support"})
                latencies.append((time.perf_counter() - t0) * 1000)
                resp.raise_for_status()

            batch_times = []
            n_batch = 0
            for b in range(args.batches):
                chunk = texts[b * 256 : (b + 1) * 256]
                t0 = time.perf_counter()
                resp = client.post("/classify/batch", json={"items": [{"text": t} for t in chunk]})
                batch_times.append(time.perf_counter() - t0)
                resp.raise_for_status()
                assert resp.json()["failed"] == 0
                n_batch += len(chunk)
            memory = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(10)

    source = "BANKING77 test" if DATA.exists() else "built-in"
    print(f"machine: {os.cpu_count()} cores; tickets: {source}")
    print(f"start-up to ready        {ready_s:8.2f} s      (target ≤ 5 s)")
    print(
        f"/classify latency p50    {pct(latencies, 50):8.2f} ms     (target ≤ 25 ms; "
        f"p95 {pct(latencies, 95):.2f} ms, n={len(latencies)})"
    )
    print(
        f"/classify/batch          {n_batch / sum(batch_times):8.1f} tickets/s (target ≥ 150; "
        f"{len(batch_times)} batches of 256)"
    )
    print(f"server resident memory   {memory:8.1f} MB     (target ≤ 500 MB)")


if __name__ == "__main__":
    main()

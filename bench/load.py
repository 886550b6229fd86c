"""HTTP load test: uvicorn serving the gateway on 127.0.0.1, httpx AsyncClient as the generator.

    .venv/bin/python bench/load.py                      # 2,000 requests, 50 concurrent
    .venv/bin/python bench/load.py --requests 500 --concurrency 20 --workers 2

Phase 1 sends distinct tickets (every one a cache miss: the embedded model scores it);
phase 2 repeats one ticket sequentially (cache hits) for the cache-hit latency over HTTP.
Bounded: every phase has a deadline; exits 1 on any error or a missed target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TICKETS = [
    "I was charged twice for my subscription this month. Please refund the duplicate charge.",
    "The app crashes every time I open settings after the 4.2 update",
    "How do I reset my password? I'm locked out of my account.",
    "Where is my package? Tracking says delivered but nothing arrived.",
    "I want to return the shoes, they are the wrong size",
    "Do you offer discounts for annual plans with 50 seats?",
    "Your support agent was wonderful, thanks for the quick help!",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "gateway.asgi:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]


def start_server(
    port: int,
    workers: int,
    cache_dir: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.Popen[bytes]:
    """``env`` adds to (or overrides) the inherited environment; ``preexec_fn`` runs in the
    child before exec (the fault tests set resource limits there)."""
    full_env = {
        **os.environ,
        "GATEWAY_CACHE_DIR": str(cache_dir),
        "GATEWAY_HOST": "127.0.0.1",
        **(env or {}),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            server_command(port, workers),
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )


def wait_ready(base: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout_s:.0f} s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(
    base: str, n: int, concurrency: int, deadline_s: float, *, distinct: bool = True
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                text = TICKETS[i % len(TICKETS)]
                if distinct:
                    text = f"{text} (ref {i})"
                started = time.perf_counter()
                try:
                    r = await client.post("/classify", json={"text": text, "rubric": "support"})
                    if r.status_code != 200:
                        errors.append(f"HTTP {r.status_code}")
                        continue
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))), timeout=deadline_s
        )
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


async def raw_hits(port: int, n: int, deadline_s: float) -> tuple[list[float], list[str], float]:
    """Sequential cache hits over one keep-alive HTTP/1.1 connection with a minimal client:
    httpx alone costs ~2 ms a request on two cores, which would measure the client."""
    body = b'{"text": "I was charged twice this month. Order #12345.", "rubric": "support"}'
    request = (
        b"POST /classify HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    latencies: list[float] = []
    errors: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.perf_counter()
    try:
        for _ in range(n):
            if time.perf_counter() - started > deadline_s:
                errors.append("deadline")
                break
            t = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200") or b'"cached":true' not in payload:
                errors.append(head.split(b"\r\n")[0].decode())
    finally:
        writer.close()
    return latencies[1:], errors[1:], time.perf_counter() - started  # the first one is a miss


def report(name: str, lat: list[float], errors: list[str], elapsed: float) -> None:
    ms = [x * 1000 for x in lat]
    print(
        f"{name}: {len(lat)} ok, {len(errors)} errors in {elapsed:.1f} s  "
        f"throughput {len(lat) / elapsed:.1f} req/s  p50 {statistics.median(ms):.1f} ms  "
        f"p99 {pct(ms, 0.99):.1f} ms  max {max(ms):.1f} ms"
    )
    if errors:
        print(f"  errors: {sorted(set(errors))}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--hits", type=int, default=500, help="cache-hit requests (sequential)")
    ap.add_argument("--deadline", type=float, default=300, help="seconds per phase")
    ap.add_argument("--hit-target-ms", type=float, default=3.0)
    args = ap.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        server = start_server(port, args.workers, Path(tmp) / "cache", log)
        try:
            wait_ready(base)
            asyncio.run(run_load(base, 50, 10, 60))  # warm-up: threads, sessions, rubrics
            lat, errors, elapsed = asyncio.run(
                run_load(base, args.requests, args.concurrency, args.deadline)
            )
            report(f"miss x{args.requests} @{args.concurrency}", lat, errors, elapsed)
            hit_lat, hit_err, hit_elapsed = asyncio.run(
                run_load(base, args.hits, 1, args.deadline, distinct=False)
            )
            report(f"cache hit x{args.hits} @1", hit_lat, hit_err, hit_elapsed)
            raw_lat, raw_err, raw_elapsed = asyncio.run(raw_hits(port, args.hits, args.deadline))
            report(
                f"cache hit x{args.hits} @1 (raw keep-alive client)", raw_lat, raw_err, raw_elapsed
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        hit_p50 = statistics.median(raw_lat) * 1000
        print(f"cache-hit p50 over HTTP {hit_p50:.2f} ms (target <= {args.hit_target_ms} ms)")
        ok = not errors and not hit_err and not raw_err and hit_p50 <= args.hit_target_ms
        if not ok:
            print(log.read_text()[-3000:])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

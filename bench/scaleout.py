"""Scale-out benchmark: two replicas sharing Redis against one replica on diskcache, same machine,
same run, the same requests.

    .venv/bin/python bench/scaleout.py                          # 2,000 requests, 50 concurrent
    .venv/bin/python bench/scaleout.py --redis-url redis://127.0.0.1:6379/10 --requests 500

Each setup serves the embedded scorer (uvicorn, one worker a replica; store and redaction off in
both, so the numbers compare the cache and the limits, not spaCy or SQLite writes) and runs:

- cache miss: ``--requests`` distinct tickets, ``--concurrency`` at once, spread round-robin
  over the setup's replicas (a client-side load balancer);
- cache hit: the same tickets again, each to the other replica than the one that scored it,
  so every one is a hit that crossed replicas (with one replica: the same one).

Both setups have the per-key rate limit on (one key, a limit no run reaches), so each request
also spends a token: from Redis with two replicas, from the diskcache directory with one
(``--no-limit``: off in both, to see the cache alone).
Prints throughput and p50/p99 side by side; exits 1 on any error. The client runs on the same
cores as the servers: compare the rows with each other, not with another machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import TICKETS, free_port, pct, start_server, wait_ready

KEY = "bench-scaleout-key"
KEY_DIGEST = hashlib.sha256(KEY.encode()).hexdigest()  # GATEWAY_API_KEYS holds digests


class Run:
    def __init__(self, setup: str, phase: str, lat: list[float], errors: list[str], s: float):
        self.setup, self.phase, self.lat, self.errors, self.elapsed = setup, phase, lat, errors, s

    def row(self) -> str:
        ms = [x * 1000 for x in self.lat] or [float("nan")]
        return (
            f"{self.setup:<26} {self.phase:<6} {len(self.lat):>6} {len(self.errors):>6} "
            f"{len(self.lat) / self.elapsed:>9.1f} {statistics.median(ms):>8.1f} "
            f"{pct(ms, 0.99):>8.1f}"
        )


def texts(n: int, tag: str) -> list[str]:
    return [f"{TICKETS[i % len(TICKETS)]} (ref {tag}-{i})" for i in range(n)]


async def load(
    bases: Sequence[str],
    bodies: Sequence[str],
    concurrency: int,
    deadline_s: float,
    offset: int = 0,
) -> tuple[list[float], list[str], float, int]:
    """Ticket ``i`` goes to replica ``(i + offset) % len(bases)``. Returns latencies, errors,
    elapsed seconds and how many answers were cache hits."""
    latencies: list[float] = []
    errors: list[str] = []
    hits = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"x-api-key": KEY}
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def worker() -> None:
            nonlocal hits
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                url = f"{bases[(i + offset) % len(bases)]}/classify"
                started = time.perf_counter()
                try:
                    r = await client.post(url, json={"text": bodies[i], "rubric": "support"})
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                if r.status_code != 200:
                    errors.append(f"HTTP {r.status_code}")
                    continue
                latencies.append(time.perf_counter() - started)
                hits += bool(r.json()["cached"])

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))), timeout=deadline_s
        )
    return latencies, errors, time.perf_counter() - started, hits


def bench_setup(
    name: str, replicas: int, env: dict[str, str], args: argparse.Namespace, workdir: Path
) -> list[Run]:
    ports = [free_port() for _ in range(replicas)]
    servers = [
        start_server(
            port, 1, workdir / f"{name}-{i}" / "cache", workdir / f"{name}-{i}.log", env=env
        )
        for i, port in enumerate(ports)
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    runs: list[Run] = []
    try:
        for base in bases:
            wait_ready(base)
        asyncio.run(load(bases, texts(100, f"warm-{name}"), 10, 120))  # warm-up
        bodies = texts(args.requests, f"{name}-{uuid.uuid4().hex[:6]}")
        for phase, offset in (("miss", 0), ("hit", 1)):
            # the hit run sends each ticket to the other replica than the one that scored it
            lat, errors, elapsed, hits = asyncio.run(
                load(bases, bodies, args.concurrency, args.deadline, offset)
            )
            want = len(lat) if phase == "hit" else 0
            if hits != want:
                errors.append(f"{hits} cache hits in the {phase} run (expected {want})")
            runs.append(Run(name, phase, lat, errors, elapsed))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    for run in runs:
        if run.errors:
            for i in range(replicas):
                print((workdir / f"{name}-{i}.log").read_text()[-2000:])
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--deadline", type=float, default=600, help="seconds per run")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    ap.add_argument("--no-limit", action="store_true", help="rate limit off in both setups")
    args = ap.parse_args()

    client = redis.Redis.from_url(args.redis_url, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        print(f"no Redis at {args.redis_url} ({type(exc).__name__}); start one: redis-server")
        return 1
    prefix = f"rubric-bench-{uuid.uuid4().hex[:8]}:"
    common = {
        "GATEWAY_STORE_ENABLED": "false",
        "GATEWAY_REDACT": "false",
        "GATEWAY_API_KEYS": json.dumps([KEY_DIGEST]),
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "0" if args.no_limit else str(100 * args.requests),
    }
    redis_env = {**common, "GATEWAY_REDIS_URL": args.redis_url, "GATEWAY_REDIS_PREFIX": prefix}
    runs: list[Run] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs += bench_setup("2 replicas + Redis", 2, redis_env, args, Path(tmp))
            runs += bench_setup("1 replica + diskcache", 1, common, args, Path(tmp))
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    print(
        f"\n{args.requests} requests, {args.concurrency} concurrent, embedded scorer, one machine\n"
    )
    print(
        f"{'setup':<26} {'run':<6} {'ok':>6} {'errors':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    )
    for run in runs:
        print(run.row())
    failed = [e for run in runs for e in run.errors]
    if failed:
        print(f"errors: {sorted(set(failed))[:10]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

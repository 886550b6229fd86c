"""Helpdesk webhooks benchmark: 1,000 signed Zendesk webhooks at 20 concurrent against a real
gateway (uvicorn, one worker, SQLite job queue, the embedded model, Presidio on) and a fake
Zendesk on 127.0.0.1 (tests/connectors/fake_zendesk.py) that records what it is sent.

    .venv/bin/python bench/webhooks.py                       # 1,000 webhooks, 20 concurrent
    .venv/bin/python bench/webhooks.py --webhooks 200 --replays 50
    .venv/bin/python bench/webhooks.py --redis redis://127.0.0.1:6379/11   # jobs in Redis (saq)

Every ``--replays``-th webhook is also sent a second time (the helpdesk retrying), so "none
twice" is tested, not assumed. Prints the acknowledgement latency (p50/p99/max), how long until
every ticket was written back, and how many tickets were written to zero or several times;
exits 1 unless every webhook was acknowledged 2xx with p99 < 1 s and every ticket written
exactly once. The client and the fake share the machine's cores with the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "connectors"))
from fake_zendesk import SECRET, FakeZendesk, event_body, signed  # noqa: E402
from load import TICKETS, free_port, pct, start_server, wait_ready  # noqa: E402


async def send(base: str, ids: list[str], concurrency: int) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    slowest: list[tuple[float, int, float]] = []  # (latency, position, when)
    t0 = time.perf_counter()
    errors: list[str] = []
    pending = collections.deque(ids)
    async with httpx.AsyncClient(timeout=30) as client:

        async def worker() -> None:
            while pending:
                position = len(ids) - len(pending)
                ticket = pending.popleft()
                body = event_body(ticket, event_id=f"evt-{ticket}")
                started = time.perf_counter()
                resp = await client.post(
                    f"{base}/webhooks/zendesk/bench", content=body, headers=signed(body)
                )
                latencies.append(time.perf_counter() - started)
                slowest.append((latencies[-1], position, started - t0))
                if resp.status_code not in (200, 202):
                    errors.append(f"ticket {ticket}: {resp.status_code}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    slow = sorted(slowest, reverse=True)[:8]
    print(
        "slowest acks (ms @ position, s into the run): "
        + ", ".join(f"{lat * 1000:.0f} @ {pos}, {when:.1f}s" for lat, pos, when in slow)
    )
    return latencies, errors


def _clean(url: str, prefix: str) -> None:
    """The bench's keys: ours under the prefix, saq's under ``saq:<prefix>helpdesk``."""
    client = redis.Redis.from_url(url)
    for pattern in (f"{prefix}*", f"saq:{prefix}helpdesk:*", f"saq:job:{prefix}helpdesk:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--webhooks", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--replays", type=int, default=10, help="every Nth webhook sent twice")
    ap.add_argument("--deadline", type=float, default=600, help="seconds to wait for write-backs")
    ap.add_argument("--redis", help="GATEWAY_REDIS_URL: the job queue (and cache) in Redis")
    args = ap.parse_args()
    prefix = f"rubric-bench-{uuid.uuid4().hex[:8]}:"

    with tempfile.TemporaryDirectory() as tmp, FakeZendesk() as fake:
        work = Path(tmp)
        ids = [str(1000 + i) for i in range(args.webhooks)]
        for i, ticket in enumerate(ids):
            fake.add_ticket(ticket, "Ticket", f"{TICKETS[i % len(TICKETS)]} (ref {ticket})")
        connections = {
            "connections": [
                {
                    "name": "bench",
                    "helpdesk": "zendesk",
                    "rubric": "support",
                    "base_url": fake.url,
                    "webhook_secret_env": "BENCH_SECRET",
                    "api_token_env": "BENCH_TOKEN",
                }
            ]
        }
        (work / "connections.yaml").write_text(yaml.safe_dump(connections))
        port = free_port()
        env = {
            "GATEWAY_CONNECTIONS_FILE": str(work / "connections.yaml"),
            "GATEWAY_DATA_DIR": str(work / "data"),
            "BENCH_SECRET": SECRET,
            "BENCH_TOKEN": "bench-token",
        }
        if args.redis:
            env |= {"GATEWAY_REDIS_URL": args.redis, "GATEWAY_REDIS_PREFIX": prefix}
        log = work / "gateway.log"
        server = start_server(port, 1, work / "cache", log, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base)
            # the replays go with the first sends, while their originals are in flight
            order = ids + ids[:: args.replays] if args.replays else ids
            started = time.perf_counter()
            lat, errors = asyncio.run(send(base, order, args.concurrency))
            acked = time.perf_counter() - started
            deadline = time.monotonic() + args.deadline
            while time.monotonic() < deadline:
                if len({c.path for c in fake.writes()}) >= len(ids):
                    break
                time.sleep(0.2)
            time.sleep(2)  # a late duplicate would show here
            written = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
            if args.redis:
                _clean(args.redis, prefix)
        writes = collections.Counter(c.path for c in fake.writes())
        per_ticket = [writes.get(f"/api/v2/tickets/{t}.json", 0) for t in ids]
        missing = sum(1 for n in per_ticket if n == 0)
        twice = sum(1 for n in per_ticket if n > 1)
        ms = [x * 1000 for x in lat]
        print(
            f"webhooks sent            {len(order)} ({len(order) - len(ids)} replays), "
            f"{args.concurrency} concurrent, jobs in {'redis (saq)' if args.redis else 'the store'}"
        )
        print(f"acknowledged 2xx         {len(lat) - len(errors)} of {len(order)}")
        print(
            f"ack latency ms           p50 {statistics.median(ms):.1f}  p99 {pct(ms, 0.99):.1f}"
            f"  max {max(ms):.1f}"
        )
        print(f"ack throughput           {len(order) / acked:.0f} webhooks/s")
        print(f"all written back after   {written:.1f} s ({len(ids) / written:.1f} tickets/s)")
        print(
            f"tickets written once     {len(ids) - missing - twice} of {len(ids)}; "
            f"missing {missing}; written more than once {twice}"
        )
        ok = not errors and pct(ms, 0.99) < 1000 and missing == 0 and twice == 0
        if not ok:
            print("\n".join(errors[:10]))
            print(log.read_text()[-3000:])
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

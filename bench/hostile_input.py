"""Head-of-line blocking under hostile input, over real HTTP.

Serves the gateway (embedded defaults, result cache off) with uvicorn on 127.0.0.1, then runs 50
concurrent clients sending normal tickets (BANKING77 test), twice: alone (quiet), and while one
more client sends, back to back, the worst inputs found for issue 11 (long runs of one
character or emoji, lone surrogates, deep JSON, huge integers, inline labels with the most
examples, metadata at its limits). Prints the normal
tickets' p50/p99 in both runs and their ratio (target: p99 within 2x of quiet).

    .venv/bin/python bench/hostile_input.py [--clients 50] [--requests 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
from local_latency import pct, start_server, tickets

WORST: list[bytes] = [
    json.dumps({"text": "!" * 20_000}).encode(),
    json.dumps({"text": "😀" * 20_000}).encode(),
    json.dumps({"text": "a" * 20_000}).encode(),
    json.dumps({"text": "-." * 10_000}).encode(),
    json.dumps({"text": "1" * 20_000}).encode(),
    json.dumps({"text": "@" * 20_000}).encode(),
    json.dumps({"text": ("x" * 40 + " ") * 480}).encode(),
    b'{"text": "\\ud800' + b"a" * 1000 + b'"}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"text": "ok", "metadata": {"n": ' + b"9" * 5_000 + b"}}",
    json.dumps(
        {
            "text": "refund please " * 100,
            "labels": [
                {"name": f"l{i}", "rubric": "q" * 1000, "examples": ["e" * 1000] * 8}
                for i in range(64)
            ],
        }
    ).encode(),
    json.dumps({"text": "hello", "metadata": {f"k{i}": "v" * 1000 for i in range(32)}}).encode(),
]


async def normal_load(base: str, texts: list[str], clients: int, requests: int) -> list[float]:
    latencies: list[float] = []

    async def one(c: int, http: httpx.AsyncClient) -> None:
        for r in range(requests):
            text = texts[(c * requests + r) % len(texts)]
            t0 = time.perf_counter()
            resp = await http.post("/classify", json={"text": text})
            latencies.append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()

    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        await asyncio.gather(*(one(c, http) for c in range(clients)))
    return latencies


async def hostile(base: str, stop: asyncio.Event, statuses: list[int]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        i = 0
        while not stop.is_set():
            body = WORST[i % len(WORST)]
            resp = await http.post(
                "/classify", content=body, headers={"content-type": "application/json"}
            )
            statuses.append(resp.status_code)
            i += 1


async def run(base: str, clients: int, requests: int) -> None:
    texts = tickets()
    await normal_load(base, texts[:200], 10, 5)  # warm-up
    quiet = await normal_load(base, texts, clients, requests)
    stop, statuses = asyncio.Event(), []
    attacker = asyncio.create_task(hostile(base, stop, statuses))
    loaded = await normal_load(base, texts[::-1], clients, requests)
    stop.set()
    await attacker
    print(f"normal tickets: {clients} clients x {requests} requests; cache off")
    print(f"quiet          p50 {pct(quiet, 50):8.1f} ms   p99 {pct(quiet, 99):8.1f} ms")
    print(f"under attack   p50 {pct(loaded, 50):8.1f} ms   p99 {pct(loaded, 99):8.1f} ms")
    print(f"p99 ratio      {pct(loaded, 99) / pct(quiet, 99):8.2f}x   (target ≤ 2x)")
    errors = sum(s >= 500 for s in statuses)
    print(f"hostile requests: {len(statuses)}, statuses {sorted(set(statuses))}, 5xx: {errors}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    server, base = start_server()
    try:
        asyncio.run(run(base, args.clients, args.requests))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()

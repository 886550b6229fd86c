"""Gateway overhead around a provider call, and 200 concurrent calls to a slow provider.

    .venv/bin/python bench/provider_overhead.py                 # scorer level (default)
    .venv/bin/python bench/provider_overhead.py --calls 500 --loop asyncio
    .venv/bin/python bench/provider_overhead.py --mode http --url http://127.0.0.1:8000/classify

The provider is tests/support/wire_server.py in its own process (so its work does not share the
GIL with the code measured), answering every structured request from the request's own schema.

Phase 1, overhead: sequential calls against the server answering instantly. The exact request
body the gateway sends is also sent with a bare httpx client (the floor: HTTP round trip + the
server's own time) and with bare ``litellm.acompletion`` (what litellm alone costs, called the
way the gateway calls it, with nothing of litellm's switched off); the server gives all three the
same answer. Overhead = gateway − floor; of which litellm's = bare litellm − floor, and the
gateway's own = gateway − bare litellm (prompt, instructor, retries, accounting).
Phase 2, concurrency: N calls at once with the server answering in 200 ms; all must succeed.

Targets (issue 17): the gateway's own overhead p50 ≤ 2 ms (litellm's is measured and reported,
not fought: it is small beside a 300-3,000 ms call); 200 concurrent without error. Exits 1 on an
error. ``--local-weight 0.5`` measures the served default, the embedded model asked alongside
each call (``scoring.blend``): against an instant provider its encoding shows as ours; behind a
real call it runs concurrently (phase 2).
Modes: ``scorer`` calls ``LLMScorer.score_many`` in-process; ``http`` POSTs /classify to a running
gateway (start it with GATEWAY_SCORER=llm, GATEWAY_MODEL=openai/bench-model and GATEWAY_API_BASE
pointing at a wire server: ``python tests/support/wire_server.py`` prints its port).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.config import ProviderSettings  # noqa: E402
from gateway.errors import GatewayError  # noqa: E402
from gateway.providers import load_prompt  # noqa: E402
from gateway.providers.client import ProviderClient, litellm  # noqa: E402
from gateway.rubrics import parse_rubric  # noqa: E402
from gateway.scoring import Scorer  # noqa: E402
from gateway.scoring.blend import BlendScorer  # noqa: E402
from gateway.scoring.llm import LLMScorer  # noqa: E402

TICKET = "I was charged twice for my subscription this month. Please refund the duplicate charge."
RUBRIC = parse_rubric(
    """
name: support
axes:
  category:
    labels:
      - {name: billing, rubric: "Is this about a charge, refund or invoice?"}
      - {name: technical, rubric: "Is this about a bug or the product failing?"}
      - {name: account, rubric: "Is this about logging in or account settings?"}
      - {name: general, rubric: "Is this a general question or feedback?"}
  priority:
    labels:
      - {name: high, rubric: "Does this need an answer within the hour?"}
      - {name: normal, rubric: "Can this be answered within a day?"}
      - {name: low, rubric: "Can this wait a few days?"}
""",
    "support.yaml",
)
SETTLE_S = 0.005  # between timed calls: background work of the previous call finishes
# A model litellm has a price for, so cost accounting runs the way it does in production.
MODEL = "openai/gpt-4o-mini"


class Target(Protocol):
    """One way of sending a ticket through the gateway (scorer call, HTTP request...)."""

    name: str

    async def call(self, text: str) -> None: ...

    async def close(self) -> None: ...


@functools.cache
def embedded() -> Scorer:
    from gateway.config import Settings
    from gateway.scoring import build_local_scorer

    return build_local_scorer(Settings().local)


class ScorerTarget:
    def __init__(self, api_base: str, concurrency: int, local_weight: float = 0.0) -> None:
        client = ProviderClient(
            ProviderSettings(model=MODEL, api_base=api_base, api_key="sk-bench")
        )
        llm = LLMScorer(client, load_prompt("classify.v2"), concurrency=concurrency)
        self.scorer: Scorer = llm
        self.name = "LLMScorer.score_many"
        if local_weight:  # the gateway's default: the embedded model asked alongside
            self.scorer = BlendScorer(llm, embedded(), local_weight)
            self.name = f"BlendScorer(LLMScorer, {local_weight})"

    async def call(self, text: str) -> None:
        (result,) = await self.scorer.score_many([text], RUBRIC, [])
        if isinstance(result, GatewayError):
            raise result  # a per-ticket failure comes back in its slot
        assert result.axes["category"].scores

    async def close(self) -> None:
        return None


class HttpTarget:
    name = "POST /classify"

    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(timeout=60, limits=limits)

    async def call(self, text: str) -> None:
        response = await self.client.post(self.url, json={"text": text})
        response.raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()


# --------------------------------------------------------------------------- wire server


@contextlib.contextmanager
def wire_server(delay_ms: float, answer: str | None = None) -> Iterator[str]:
    command = [
        sys.executable,
        str(ROOT / "tests" / "support" / "wire_server.py"),
        "--delay-ms",
        str(delay_ms),
    ]
    if answer is not None:
        command += ["--answer", answer]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("wire server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- measurements


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


async def interleaved(
    calls: Sequence[Callable[[], Awaitable[object]]], n: int, warm: int = 20
) -> list[list[float]]:
    """``n`` timings (ms) of each call, taken in turn (a, b, c, a, b, c...), so that load from
    other processes falls on every variant alike instead of on whichever phase it hit. Between
    calls, untimed, the loop settles: litellm finishes a call's logging in background tasks after
    returning it, and that work must not land in the next variant's timing."""
    for _ in range(warm):
        for call in calls:
            await call()
    out: list[list[float]] = [[] for _ in calls]
    for _ in range(n):
        for samples, call in zip(out, calls, strict=True):
            await asyncio.sleep(SETTLE_S)
            started = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - started) * 1000)
    return out


def paired_p50(a: list[float], b: list[float]) -> float:
    """The median of the per-round differences a - b (robust to load that drifts over a run)."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def line(name: str, samples: list[float]) -> str:
    return f"  {name:<28} p50 {pct(samples, 50):7.2f} ms   p95 {pct(samples, 95):7.2f} ms"


async def recorded_exchange() -> tuple[dict[str, Any], str]:
    """The exact body the gateway sends for TICKET, and a valid answer to it.

    The floor and the bare-litellm baseline send this same body and the server gives every
    variant this same answer, so the server's own time cancels out of the differences.
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from support.wire_server import WireServer, schema_filler

    with WireServer(schema_filler) as recorder:
        await ScorerTarget(recorder.url, 1).call(TICKET)
        body = recorder.requests[0].body
    reply = schema_filler(body)
    return body, str(reply.body["choices"][0]["message"]["content"])


async def overhead(target: Target, api_base: str, body: dict[str, Any], calls: int) -> float:
    messages = body["messages"]

    async def bare_litellm() -> object:
        # litellm as the gateway calls it (gateway/providers/calls.py), the same body
        return await litellm.acompletion(
            model=MODEL,
            messages=messages,
            api_base=api_base,
            api_key="sk-bench",
            temperature=0,
            response_format=body.get("response_format", {"type": "json_object"}),
            max_tokens=body.get("max_tokens"),
            drop_params=True,
            num_retries=0,
            max_retries=0,
        )

    async with httpx.AsyncClient(base_url=api_base) as raw:
        floor, bare, gateway = await interleaved(
            [
                lambda: raw.post("/chat/completions", json=body),
                bare_litellm,
                lambda: target.call(TICKET),
            ],
            calls,
        )
    print(f"phase 1: {calls} sequential calls, provider answering instantly")
    print(line("bare httpx (floor)", floor))
    print(line("bare litellm.acompletion", bare))
    print(line(target.name, gateway))
    over50 = pct(gateway, 50) - pct(floor, 50)
    over95 = pct(gateway, 95) - pct(floor, 95)
    ours50 = paired_p50(gateway, bare)
    print(f"  gateway overhead             p50 {over50:7.2f} ms   p95 {over95:7.2f} ms")
    print(f"    of which litellm           p50 {paired_p50(bare, floor):7.2f} ms")
    print(f"    of which ours              p50 {ours50:7.2f} ms")
    print("  (shares: medians of the per-round differences; calls interleaved round by round)")
    return ours50


async def concurrent(target: Target, n: int, delay_ms: float) -> int:
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(target.call(f"{TICKET} #{i}") for i in range(n)), return_exceptions=True
    )
    wall = time.perf_counter() - started
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    print(f"phase 2: {n} concurrent calls, provider answering in {delay_ms:.0f} ms")
    print(f"  ok {n - len(errors)}/{n}   wall {wall * 1000:.0f} ms")
    for err in errors[:3]:
        print(f"  error: {type(err).__name__}: {err}")
    return len(errors)


async def run(args: argparse.Namespace) -> int:
    failures = 0
    body, answer = await recorded_exchange()
    with wire_server(0, answer) as instant:
        target: Target = (
            ScorerTarget(instant, args.concurrency, args.local_weight)
            if args.mode == "scorer"
            else HttpTarget(args.url, args.concurrency)
        )
        ours50 = await overhead(target, instant, body, args.calls)
        await target.close()
    verdict = "met" if ours50 <= 2.0 else f"MISSED ({ours50:.2f} ms)"
    print(f"  target: our own overhead p50 ≤ 2 ms: {verdict}")
    with wire_server(args.delay_ms) as slow:
        target = (
            ScorerTarget(slow, args.concurrency, args.local_weight)
            if args.mode == "scorer"
            else HttpTarget(args.url, args.concurrency)
        )
        await target.call(TICKET)  # connection set-up and first-call imports, not measured
        failures += await concurrent(target, args.concurrent, args.delay_ms)
        await target.close()
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["scorer", "http"], default="scorer")
    parser.add_argument("--url", default="http://127.0.0.1:8000/classify", help="http mode")
    parser.add_argument("--calls", type=int, default=300, help="phase 1 sequential calls")
    parser.add_argument("--concurrent", type=int, default=200, help="phase 2 calls at once")
    parser.add_argument("--delay-ms", type=float, default=200.0, help="phase 2 provider time")
    parser.add_argument(
        "--concurrency", type=int, default=200, help="LLMScorer bound (GATEWAY_LLM_CONCURRENCY)"
    )
    parser.add_argument(
        "--local-weight",
        type=float,
        default=0.0,
        help="scorer mode: mix in the embedded model as GATEWAY_LLM_LOCAL_WEIGHT does (it then "
        "counts as ours); 0: the provider path alone",
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="uvloop is what uvicorn runs the gateway on when it is installed",
    )
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, loop {args.loop}")
    if args.loop == "uvloop":
        import uvloop

        code = uvloop.run(run(args))
    else:
        code = asyncio.run(run(args))
    sys.exit(code)


if __name__ == "__main__":
    main()

"""Provider faults mid-load: a real uvicorn process with the llm scorer against the local
OpenAI-wire server (tests/support/wire_server.py), which turns faulty part-way through a bounded load
and then recovers.

Every request must end as a 200 with the label the provider gave for *that* ticket, or as a
clear provider error (JSON error body, 502/503/504): never a 500, never another ticket's label.
The worker stays up, and once the provider recovers requests succeed again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.wire_server import Body, Reply, WireServer, error, json_reply, requested_schema, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from load import free_port, start_server, wait_ready

# Ticket keyword → the label the fake provider picks. The keywords appear in no rubric question,
# so the provider can only have read them from the ticket it was asked about.
TOPICS = {"charged": "billing", "crashes": "technical", "parcel": "shipping"}
TICKETS = {
    "billing": "I was charged twice for my plan",
    "technical": "The app crashes when I open settings",
    "shipping": "My parcel never arrived",
}
LABELS = [
    {"name": "billing", "rubric": "Is this about money taken from the customer?"},
    {"name": "technical", "rubric": "Is this about software misbehaving?"},
    {"name": "shipping", "rubric": "Is this about a delivery?"},
]
PROVIDER_ERRORS = {502: "provider_error", 503: "provider_unavailable", 504: "timeout"}


def _ticket(body: Body) -> str:
    return "\n".join(
        str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user"
    )


def answer(body: Body) -> Reply:
    """What a good model says: the topic of the ticket it was sent, in the requested schema."""
    schema = requested_schema(body)
    assert schema is not None
    defs = schema.get("$defs", {})

    def resolve(node: Body) -> Body:
        return dict(defs[node["$ref"].rsplit("/", 1)[-1]]) if "$ref" in node else node

    ticket = _ticket(body)
    topic = next(label for word, label in TOPICS.items() if word in ticket)
    reply = {}
    for axis, node in schema["properties"].items():
        keys = resolve(resolve(node)["properties"]["p_yes"])["properties"]
        p_yes = {key: 0.9 if key == topic else 0.05 for key in keys}
        reply[axis] = {"rationale": "r", "choice": topic, "p_yes": p_yes}
    return json_reply(reply)


def garbage() -> Callable[[Body], Reply]:
    """Answers that are not a valid structured answer, in turn: not JSON at the HTTP level, no
    JSON in the message, JSON of the wrong shape, an unknown label."""
    kinds = itertools.cycle(["http", "text", "shape", "label"])

    def reply(body: Body) -> Reply:
        kind = next(kinds)
        if kind == "http":
            return Reply(raw="<html>upstream sent nonsense</html>")
        if kind == "text":
            return text("Sure! The ticket is about billing.")
        if kind == "shape":
            return json_reply({"label": "billing", "score": 7})
        bad = json.loads(answer(body).body["choices"][0]["message"]["content"])
        for axis in bad.values():
            axis["choice"] = "refunds"
        return json_reply(bad)

    return reply


@dataclass
class Gateway:
    base: str
    server: subprocess.Popen[bytes]
    wire: WireServer
    log: Path


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("provider-faults")
    with WireServer(answer) as wire:
        port = free_port()
        env = {
            "GATEWAY_SCORER": "llm",
            "GATEWAY_MODEL": "openai/test-model",
            "GATEWAY_API_BASE": wire.url,
            "OPENAI_API_KEY": "sk-test",
            # Short limits keep the test bounded: one call 1 s, one request 2 s (the HTTP
            # request deadline, which cuts off a request mid-call: a hang ends as a 504),
            # its provider work 3 s; one retry, one re-ask.
            "GATEWAY_LLM_TIMEOUT_S": "1",
            "GATEWAY_REQUEST_TIMEOUT_S": "2",
            "GATEWAY_DEADLINE_S": "3",
            "GATEWAY_MAX_RETRIES": "1",
            "GATEWAY_MAX_REASKS": "1",
        }
        log = tmp / "server.log"
        server = start_server(port, 1, tmp / "cache", log, env=env)
        try:
            wait_ready(f"http://127.0.0.1:{port}")
            yield Gateway(f"http://127.0.0.1:{port}", server, wire, log)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


@dataclass
class Outcome:
    topic: str
    text: str
    status: int
    body: Any


async def _one(client: httpx.AsyncClient, topic: str, text: str) -> Outcome:
    r = await client.post("/classify", json={"text": text, "labels": LABELS})
    try:
        body = r.json()
    except ValueError:
        body = r.text
    return Outcome(topic, text, r.status_code, body)


def _check(outcome: Outcome) -> str | None:
    """None when the outcome is acceptable; else what is wrong with it."""
    if outcome.status == 200:
        ok = isinstance(outcome.body, dict) and outcome.body.get("top_label") == outcome.topic
        return None if ok else f"wrong answer for {outcome.topic}: {outcome.body}"
    code = PROVIDER_ERRORS.get(outcome.status)
    body = outcome.body
    if (
        code is not None
        and isinstance(body, dict)
        and body.get("error", {}).get("code") == code
        and isinstance(body["error"].get("message"), str)
    ):
        return None
    return f"HTTP {outcome.status}: {body}"


def _run_fault(
    gw: Gateway, name: str, fault: Callable[[Body], Reply], n: int = 96
) -> list[Outcome]:
    """``n`` requests, 12 at a time; the provider turns faulty after 16 answers and recovers
    once 12 requests have failed, so the load runs on through the fault and the recovery."""
    outcomes: list[Outcome] = []
    topics = itertools.cycle(TICKETS)

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        sem = asyncio.Semaphore(12)
        async with httpx.AsyncClient(base_url=gw.base, timeout=30) as client:

            async def one(i: int, topic: str) -> None:
                async with sem:
                    text = f"{TICKETS[topic]} (ref {name}-{i})"
                    outcomes.append(await _one(client, topic, text))

            load = asyncio.gather(*(one(i, next(topics)) for i in range(n)))
            try:
                await until(lambda: len(outcomes) >= 16, "healthy answers")
                gw.wire.responder = fault
                await until(lambda: sum(o.status != 200 for o in outcomes) >= 12, "failures")
            finally:
                gw.wire.responder = answer
            await asyncio.wait_for(load, timeout=90)

    asyncio.run(scenario())
    return outcomes


def _recovered(gw: Gateway, name: str, failed: list[Outcome]) -> list[Outcome]:
    """After the fault: fresh tickets and the very tickets that failed (a failure is never
    cached) all succeed."""

    async def batch() -> list[Outcome]:
        async with httpx.AsyncClient(base_url=gw.base, timeout=30) as client:
            again = [_one(client, o.topic, o.text) for o in failed[:12]]
            fresh = [
                _one(client, topic, f"{TICKETS[topic]} (ref {name}-after-{i})")
                for i, topic in enumerate(list(TICKETS) * 4)
            ]
            return list(await asyncio.gather(*again, *fresh))

    return asyncio.run(batch())


def _hang(body: Body) -> Reply:
    """A good answer, long after every deadline."""
    late = answer(body)
    late.delay_s = 8
    return late


FAULTS: dict[str, Callable[[], Callable[[Body], Reply]]] = {
    "500s": lambda: lambda body: error(500, "upstream exploded"),
    "hangs": lambda: _hang,
    "garbage": garbage,
}


@pytest.mark.parametrize("name", FAULTS)
def test_provider_fault_mid_load(gateway: Gateway, name: str) -> None:
    pid = gateway.server.pid
    outcomes = _run_fault(gateway, name, FAULTS[name]())
    problems = [p for p in map(_check, outcomes) if p is not None]
    assert not problems, problems[:5]
    failed = [o for o in outcomes if o.status != 200]
    print(
        f"{len(failed)} of {len(outcomes)} failed: "
        f"{sorted({(o.status, o.body['error']['code']) for o in failed})}"
    )
    assert len(failed) >= 12  # the fault bit
    after = _recovered(gateway, name, failed)
    assert [_check(o) for o in after] == [None] * len(after)
    assert [o.status for o in after] == [200] * len(after)
    assert gateway.server.poll() is None and gateway.server.pid == pid
    assert "Exception in ASGI application" not in gateway.log.read_text()

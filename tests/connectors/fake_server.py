"""A fake helpdesk: a real HTTP server on 127.0.0.1 (Starlette under uvicorn, in a thread) that
answers a vendor's documented endpoints from tickets it holds, and records every call it gets.

Faults are scripted per method: ``fail_next("PUT", 429, retry_after="1")`` answers the next PUT
429 with Retry-After; ``hold("GET")`` makes reads wait until ``release("GET")`` (a gateway
killed between accept and write-back). Every fake also serves a Slack incoming webhook at
``/slack/hook``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class Fault:
    method: str
    status: int
    retry_after: str | None


class FakeServer:
    """The server and its records; a vendor subclass adds ``routes()`` and its tickets."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.tickets: dict[str, dict[str, Any]] = {}
        self._faults: list[Fault] = []
        self._held: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        routes = [*self.routes(), Route("/slack/hook", self._slack, methods=["POST"])]
        config = uvicorn.Config(
            Starlette(routes=routes),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def routes(self) -> list[Route]:
        return []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ scripting
    def fail_next(self, method: str, status: int, *, retry_after: str | None = None) -> None:
        with self._lock:
            self._faults.append(Fault(method, status, retry_after))

    def hold(self, method: str) -> None:
        self._held[method] = threading.Event()

    def release(self, method: str) -> None:
        held = self._held.pop(method, None)
        if held is not None:
            held.set()

    def requests(self, method: str | None = None, contains: str = "") -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method) and contains in c.path
            ]

    def writes(self) -> list[Call]:
        """Every call that changes something (not reads, not Slack)."""
        return [c for c in self.requests() if c.method != "GET" and "/slack/" not in c.path]

    # ------------------------------------------------------------------ serving
    async def record(self, request: Request) -> tuple[Call, Response | None]:
        """Record a call; the scripted fault for it, if any (after any hold)."""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = {"_unparsed": raw.decode(errors="replace")}
        call = Call(request.method, request.url.path, dict(request.headers), body, time.monotonic())
        with self._lock:
            self.calls.append(call)
            fault = next((f for f in self._faults if f.method == request.method), None)
            if fault is not None:
                self._faults.remove(fault)
        held = self._held.get(request.method)
        if held is not None:  # a threading.Event (set from the test's thread), polled
            await asyncio.to_thread(held.wait)
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return call, JSONResponse({"error": "scripted"}, fault.status, headers=headers)
        return call, None

    async def _slack(self, request: Request) -> Response:
        _, fault = await self.record(request)
        return fault or PlainTextResponse("ok")

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake helpdesk did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        for event in self._held.values():
            event.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(check: Callable[[], object], timeout_s: float = 20.0) -> None:
    """Poll until ``check()`` is truthy; fail the test (saying what) when it never is."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s} s")


def running(server: FakeServer) -> Iterator[FakeServer]:
    with server:
        yield server

"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions wire format.

Provider tests point litellm at it (``model="openai/test-model"``, ``api_base=server.url``) so the
whole stack runs (litellm → openai SDK → HTTP client → socket) without a key or the internet.

The server answers from a *script*: a queue of replies (status codes, JSON bodies, delays, raw
malformed text), each either a ``Reply`` or a function of the request body. When the script is
empty it uses the ``responder`` (default: a 500 saying the script ran out). Every request is
recorded (path, headers, parsed body, how long the server itself spent on it).

Run it standalone for benchmarks (a separate process, so its work does not share the GIL with
the client being measured)::

    python tests/support/wire_server.py --delay-ms 200      # prints "PORT <n>", then serves
    python tests/support/wire_server.py --answer '{"a": 1}'  # the same reply to every request
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:  # imported when a client is built: litellm takes seconds to import
    from gateway.providers import ProviderClient

Body = dict[str, Any]


@dataclass
class Reply:
    """One scripted answer. ``raw`` (if set) is sent as-is instead of ``body``."""

    status: int = 200
    body: Any = None
    raw: str | None = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Scripted = Reply | Callable[[Body], Reply]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Body
    received_at: float
    handled_s: float = 0.0

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    def text(self) -> str:
        """Every message's content, joined (what the model was shown)."""
        parts: list[str] = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return "\n".join(parts)


# --------------------------------------------------------------------------- reply builders


def _usage(prompt_tokens: int, completion_tokens: int) -> Body:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    message: Body,
    *,
    model: str = "test-model",
    finish_reason: str = "stop",
    logprobs: Body | None = None,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
) -> Body:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": logprobs,
                "finish_reason": finish_reason,
            }
        ],
        "usage": _usage(prompt_tokens, completion_tokens),
    }


def text(content: str, **kwargs: Any) -> Reply:
    return Reply(body=completion_body({"role": "assistant", "content": content}, **kwargs))


def json_reply(payload: Any, **kwargs: Any) -> Reply:
    """An assistant message whose content is ``payload`` as JSON (instructor's JSON modes)."""
    return text(json.dumps(payload), **kwargs)


def logprobs_reply(
    top: Sequence[tuple[str, float]], *, content: str | None = None, **kwargs: Any
) -> Reply:
    """A one-token answer whose first token carries ``top`` as its ``top_logprobs``."""
    first = content if content is not None else top[0][0]
    entry = {
        "token": first,
        "logprob": top[0][1],
        "bytes": list(first.encode()),
        "top_logprobs": [
            {"token": token, "logprob": lp, "bytes": list(token.encode())} for token, lp in top
        ],
    }
    return text(first, logprobs={"content": [entry], "refusal": None}, **kwargs)


def error(status: int, message: str = "scripted error", **kwargs: Any) -> Reply:
    kind = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Reply(status=status, body=body, **kwargs)


def _schema_value(schema: Body, defs: Body) -> Any:
    """A valid value for a JSON schema (enough of it for pydantic's output)."""
    if "$ref" in schema:
        return _schema_value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("anyOf", "allOf", "oneOf"):
        if key in schema:
            return _schema_value(schema[key][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _schema_value(sub, defs) for name, sub in props.items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return 0.5 if kind == "number" else 1
    if kind == "boolean":
        return False
    return "ok"


def requested_schema(request: Body) -> Body | None:
    """The JSON schema a structured-output request asks for, wherever the mode put it (the
    gateway's modes: ``json`` and ``json_schema``; tool calling is not offered, see
    gateway/config/provider.py)."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return dict(response_format["json_schema"]["schema"])
    if response_format.get("type") == "json_object":
        # instructor's JSON mode appends the schema to the system message
        for message in request.get("messages", []):
            content = message.get("content")
            if message.get("role") == "system" and isinstance(content, str):
                start = content.find("{", content.find("json_schema"))
                if start >= 0:
                    schema, _ = json.JSONDecoder().raw_decode(content[start:])
                    return dict(schema)
    return None


def schema_filler(request: Body) -> Reply:
    """Answers any structured request with a value filled from its own schema; else logprobs."""
    schema = requested_schema(request)
    if schema is None:
        return logprobs_reply([("A", -0.1), ("B", -2.5)])
    return json_reply(_schema_value(schema, schema.get("$defs", {})))


def out_of_script(_: Body) -> Reply:
    return error(500, "wire server: script is empty")


# --------------------------------------------------------------------------- the server


class WireServer:
    """Starlette app under uvicorn on a free port of 127.0.0.1, in a daemon thread."""

    def __init__(self, responder: Callable[[Body], Reply] = out_of_script) -> None:
        self.responder = responder
        self.requests: list[Recorded] = []
        # GET /models (the gateway's reachability probe), recorded apart from completions
        self.listings: list[Recorded] = []
        self.listing_reply: Reply | None = None  # None: the model list
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        routes = [
            Route("/v1/chat/completions", self._handle, methods=["POST"]),
            Route("/chat/completions", self._handle, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]
        config = uvicorn.Config(
            Starlette(routes=routes),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # script ---------------------------------------------------------------------------------
    def script(self, *replies: Scripted) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.listings.clear()
            self.listing_reply = None
            self.responder = out_of_script

    @property
    def pending(self) -> int:
        return len(self._script)

    def _next(self, body: Body) -> Reply:
        with self._lock:
            item = self._script.popleft() if self._script else self.responder
        return item(body) if callable(item) else item

    async def _handle(self, request: Request) -> Response:
        received = time.perf_counter()
        raw = await request.body()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = {"_unparsed": raw.decode(errors="replace")}
        record = Recorded(request.url.path, dict(request.headers), body, time.monotonic())
        with self._lock:
            self.requests.append(record)
        reply = self._next(body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.raw is not None:
            response: Response = PlainTextResponse(
                reply.raw, status_code=reply.status, headers=reply.headers
            )
        else:
            response = JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
        # the server's own time (parsing, scripting, delay), subtracted by the benchmark
        record.handled_s = time.perf_counter() - received
        return response

    async def _models(self, request: Request) -> Response:
        """``GET /v1/models``: the OpenAI wire's model listing."""
        record = Recorded(request.url.path, dict(request.headers), {}, time.monotonic())
        with self._lock:
            self.listings.append(record)
            reply = self.listing_reply
        if reply is not None:
            await asyncio.sleep(reply.delay_s)
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
        listing = {
            "object": "list",
            "data": [{"id": "test-model", "object": "model", "created": 0, "owned_by": "test"}],
        }
        return JSONResponse(listing)

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> WireServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("wire server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> WireServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def wire_client(wire: WireServer, **overrides: Any) -> ProviderClient:
    """A ProviderClient pointed at ``wire`` (model openai/test-model), built as the tests need."""
    from pydantic import SecretStr

    from gateway.config import ProviderSettings
    from gateway.providers import ProviderClient

    config: dict[str, Any] = {
        "model": "openai/test-model",
        "api_base": wire.url,
        "api_key": SecretStr("sk-test"),
        "deadline_s": 10.0,
    }
    config.update(overrides)
    return ProviderClient(ProviderSettings(**config))


def guard_network(monkeypatch: Any) -> list[str]:
    """Refuse every connection and DNS lookup beyond loopback for one test.

    Proves "no key, no internet": litellm and instructor must not phone home (cost maps,
    telemetry, tokenizer downloads). Returns the refused hosts.
    """
    refused: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def host_of(address: Any) -> str:
        return str(address[0]) if isinstance(address, tuple) else str(address)

    def check(host: str) -> None:
        if host not in _LOOPBACK and not host.startswith("/"):
            refused.append(host)
            raise ConnectionRefusedError(f"test guard: no network beyond loopback ({host})")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(host_of(address))
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            check(host_of(address))
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None:
            check(host.decode() if isinstance(host, bytes) else str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused


@contextlib.contextmanager
def running(responder: Callable[[Body], Reply] = out_of_script) -> Iterator[WireServer]:
    with WireServer(responder) as server:
        yield server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--answer", help="always answer with this content (default: from schema)")
    args = parser.parse_args()
    delay = args.delay_ms / 1000

    def responder(body: Body) -> Reply:
        reply = text(args.answer) if args.answer is not None else schema_filler(body)
        reply.delay_s = delay
        return reply

    server = WireServer(responder)
    print(f"PORT {server.port}", flush=True)
    server._server.run(sockets=[server._socket])


if __name__ == "__main__":
    main()

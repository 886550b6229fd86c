"""Structured JSON logs, the request id, and the middleware that counts every response.

Nothing here ever sees ticket text: logs carry ids, routes, statuses and timings only.
Metrics themselves are ``gateway.server.metrics.Metrics``, one per app.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.server.metrics import Metrics

# ---------------------------------------------------------------------- logs

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_FIELDS = ("route", "status", "latency_ms", "method")


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Only the message and a fixed set of extras are emitted, so a
    stray ``extra=`` cannot smuggle request content into the log."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                out[field] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, separators=(",", ":"))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (pytest and some servers swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Attach one JSON handler to the ``gateway`` logger (idempotent)."""
    logger = logging.getLogger("gateway")
    if not any(getattr(h, "_gateway_json", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._gateway_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
    # Propagation stays on so pytest's caplog and a host app's handlers still see records;
    # uvicorn configures no root handler, so lines are not written twice under it.


access_log = logging.getLogger("gateway.access")


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Route templates only: raw paths would let scanners blow up label cardinality.
    return path if isinstance(path, str) else "unmatched"


class TelemetryMiddleware:
    """Pure ASGI: request id in and out (``x-request-id``), status/latency metrics, access log."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = incoming if incoming and _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            self.metrics.request(route, status, elapsed)
            access_log.info(
                "request",
                extra={
                    "route": route,
                    "method": scope.get("method"),
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)

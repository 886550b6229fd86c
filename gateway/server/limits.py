"""Request limits: body size and request timeout, as a pure ASGI middleware."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, RequestTimeoutError, RequestTooLargeError
from gateway.server.errors import error_messages

log = logging.getLogger(__name__)


class LimitsMiddleware:
    """Pure ASGI: 413 for bodies over ``max_bytes`` (declared or streamed), 504 past
    ``timeout_s`` if no response has started yet."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        too_large = False

        async def reply(error: GatewayError) -> None:
            for msg in error_messages(error):
                await send(msg)

        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await reply(self._too_large())
                    return
        seen = 0

        async def receive_limited() -> Message:
            # A streamed (chunked) body: stop reading at the limit and hand the app an ended
            # body; whatever it answers is replaced by the 413 below.
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive_limited, send_tracked), self.timeout_s)
        except TimeoutError:
            log.warning("request timed out after %.1f s", self.timeout_s)
            if not started:
                await reply(RequestTimeoutError(f"request took longer than {self.timeout_s:g} s"))
            return
        if too_large and not started:
            await reply(self._too_large())

    def _too_large(self) -> RequestTooLargeError:
        return RequestTooLargeError(f"request body is larger than {self.max_bytes} bytes")

"""Error bodies: every error the server answers is built here, from a ``GatewayError``.

The exception handlers (``install_error_handlers``) and the pure-ASGI ``LimitsMiddleware``
(which answers before FastAPI sees the request) use the same builder, so every error has the
documented shape ``{"error": {"code", "message"}}`` and messages carry no ticket text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from gateway.errors import (
    GatewayError,
    InternalError,
    InvalidJsonError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    RequestError,
)
from gateway.schemas import ErrorBody, ErrorDetail

log = logging.getLogger("gateway.server.errors")


def error_body(exc: GatewayError) -> ErrorBody:
    return ErrorBody(error=ErrorDetail(code=exc.code, message=exc.message))


def _headers(exc: GatewayError) -> dict[str, str]:
    retry_after = getattr(exc, "retry_after_s", None)
    return {} if retry_after is None else {"Retry-After": str(max(1, round(retry_after)))}


def error_response(exc: GatewayError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``headers``: the ones an error must carry beyond its own (a 405's ``Allow``)."""
    merged = {**(headers or {}), **_headers(exc)}
    return JSONResponse(error_body(exc).model_dump(), exc.status, headers=merged or None)


def error_messages(exc: GatewayError) -> tuple[Message, Message]:
    """The same response as ASGI messages, for middleware that answers by itself."""
    data = json.dumps(error_body(exc).model_dump()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    headers += [(k.lower().encode(), v.encode()) for k, v in _headers(exc).items()]
    start: Message = {"type": "http.response.start", "status": exc.status, "headers": headers}
    return start, {"type": "http.response.body", "body": data}


def validation_error(exc: ValidationError | RequestValidationError) -> RequestError:
    """Field locations and reasons only: pydantic's own text would echo the input back."""
    parts = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        message = err.get("msg", "invalid")
        # a whole-request check names its own place (schemas.ClassifyRequest._valid_unicode)
        parts.append(
            message if err.get("type") == "invalid_unicode" else f"{loc or 'body'}: {message}"
        )
    message = "; ".join(parts)
    return InvalidJsonError(message) if malformed else InvalidRequestError(message)


class _PassedThroughError(RequestError):
    """Another status starlette raised by itself, passed on as it is."""

    code = "http_error"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _http_error(exc: StarletteHTTPException) -> GatewayError:
    detail = str(exc.detail)
    if exc.status_code == 400:
        # FastAPI's answer to a body json.loads gave up on for another reason than syntax
        # (invalid UTF-8, nesting too deep to parse, an integer of more than 4,300 digits)
        return InvalidJsonError(
            "the body is not JSON this server can read (invalid UTF-8, nested too deeply, "
            "or a number too long)"
        )
    if exc.status_code == 404:
        return NotFoundError(detail)
    if exc.status_code == 405:
        return MethodNotAllowedError(detail)
    return _PassedThroughError(detail, exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(_http_error(exc), exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The edge of the app: log the type and place, never the request body.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return error_response(InternalError("internal error; see the server log"))

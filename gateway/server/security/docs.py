"""The API description (``/openapi.json``) and its pages (``/docs``, ``/redoc``) behind the key.

FastAPI's own documentation routes take no dependencies, so the app is built without them
(``docs_url=None``, ``openapi_url=None``) and these take their place: on a keyed gateway each
answers only a request carrying a known API key (401 ``unauthorized`` otherwise; the pages'
fetch of ``/openapi.json`` needs the key too), on a keyless loopback-only gateway all are open
as before. No rate-limit token is spent.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from gateway.server.security.guard import identify

OPENAPI_URL = "/openapi.json"

docs_router = APIRouter(dependencies=[Depends(identify)], include_in_schema=False)


def _root_path(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


@docs_router.get(OPENAPI_URL)
async def openapi(request: Request) -> JSONResponse:
    schema = request.app.openapi()
    root = _root_path(request)
    servers = schema.get("servers", [])
    if root and request.app.root_path_in_servers and root not in {s.get("url") for s in servers}:
        schema = {**schema, "servers": [{"url": root}, *servers]}
    return JSONResponse(schema)


@docs_router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=_root_path(request) + OPENAPI_URL,
        title=f"{request.app.title} - Swagger UI",
    )


@docs_router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=_root_path(request) + OPENAPI_URL,
        title=f"{request.app.title} - ReDoc",
    )

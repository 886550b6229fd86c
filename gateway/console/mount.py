"""``with_console``: the console mounted at ``/ui`` on a gateway app."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.console import routes_auth, routes_overview, routes_review, routes_rubrics, routes_try
from gateway.console.delta import DeltaJobs
from gateway.console.pages import ConsoleOptions, is_htmx, render
from gateway.console.session import ConsoleForbidden, Sessions, SignInRequired
from gateway.console.session import console_user as _console_user

STATIC = Path(__file__).parent / "static"


def _sign_in_redirect(request: Request, exc: Exception) -> Response:
    target = f"/ui/signin?{urlencode({'next': request.url.path})}"
    if is_htmx(request):  # htmx follows a 303 inside the fragment: ask for a full page load
        return Response(status_code=204, headers={"hx-redirect": target})
    return RedirectResponse(target, status_code=303)


def _forbidden(request: Request, exc: Exception) -> HTMLResponse:
    message = exc.message if isinstance(exc, ConsoleForbidden) else "Forbidden."
    try:
        user = _console_user(request)
    except (SignInRequired, ConsoleForbidden):
        user = None
    return render(request, "error.html", user, 403, message=message)


def with_console(
    app: FastAPI, options: ConsoleOptions | None = None, *, secret: bytes | None = None
) -> FastAPI:
    """``app`` (from ``gateway.server.create_app``) with the console at ``/ui``. ``secret``
    signs session cookies (default: ``<GATEWAY_DATA_DIR>/console-secret``, made once)."""
    app.state.console_options = options or ConsoleOptions()
    app.state.console_sessions = Sessions(secret)
    app.state.console_jobs = DeltaJobs()
    for module in (routes_auth, routes_rubrics, routes_try, routes_review, routes_overview):
        app.include_router(module.router, prefix="/ui", include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(SignInRequired, _sign_in_redirect)
    app.add_exception_handler(ConsoleForbidden, _forbidden)
    return app

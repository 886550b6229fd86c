"""What every console page shares: the templates, rendering with the caller, the state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from gateway.config import PROJECT_ROOT
from gateway.console.delta import DeltaJobs
from gateway.console.session import ConsoleUser
from gateway.pipeline import Classifier
from gateway.server.deps import app_state
from gateway.server.state import AppState

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


class ConsoleOptions(BaseModel):
    """How the console is set up (``with_console``)."""

    suites_dir: Path = PROJECT_ROOT / "evals" / "suites"  # eval suites offered for the eval delta
    delta_limit: int = 300  # tickets of a labelled set an eval delta runs on


def options_of(request: Request) -> ConsoleOptions:
    options: ConsoleOptions = request.app.state.console_options
    return options


def jobs_of(request: Request) -> DeltaJobs:
    jobs: DeltaJobs = request.app.state.console_jobs
    return jobs


def state_of(request: Request) -> AppState:
    return app_state(request)


def classifier_of(request: Request) -> Classifier | None:
    """The served classifier; None while the model loads."""
    return app_state(request).classifier


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, template: str, user: ConsoleUser | None, status: int = 200, **context: Any
) -> HTMLResponse:
    context.update(user=user, page=context.get("page", ""))
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    # pages hold redacted tickets and a CSRF token: never cached, never framed
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)

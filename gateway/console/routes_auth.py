"""Signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.console.pages import render, see_other
from gateway.console.session import (
    COOKIE,
    SESSION_MAX_AGE_S,
    Changer,
    Sessions,
    sessions_of,
)
from gateway.server.security import Guard

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # only a path of the console: never an open redirect to another site
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/"


def _sign_in_page(
    request: Request, sessions: Sessions, target: str, error: str | None, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "signin.html",
        None,
        status=status,
        token=sessions.sign_token(request),
        next=target,
        error=error,
        page="signin",
    )


@router.get("/signin", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _sign_in_page(request, sessions_of(request), _safe_next(next), None)


@router.post("/signin", response_model=None)
async def sign_in(
    request: Request,
    key: Annotated[str, Form(max_length=512)] = "",
    token: Annotated[str, Form(max_length=512)] = "",
    next: Annotated[str, Form(max_length=512)] = "/ui/",
) -> HTMLResponse | RedirectResponse:
    sessions = sessions_of(request)
    target = _safe_next(next)
    if not sessions.check_sign_token(request, token):
        return _sign_in_page(request, sessions, target, "The form expired: sign in again.", 403)
    guard: Guard = request.app.state.guard
    if not guard.keys.required:
        return see_other(target)  # a keyless gateway's console is open
    found = guard.keys.lookup(key.strip()) if key.strip() else None
    if found is None or not found.has("viewer"):
        error = "Unknown key." if found is None else "This key has no console role."
        return _sign_in_page(request, sessions, target, error, 401)
    response = see_other(target)
    response.set_cookie(
        COOKIE,
        sessions.issue(request, found),
        max_age=SESSION_MAX_AGE_S,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
async def sign_out(request: Request, user: Changer) -> RedirectResponse:
    response = see_other("/ui/signin")
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response

"""The review queue, one ticket at a time: confirm (Enter), another label (a number key or a
click), skip (S). The same store calls and lease rules as the review API: a reviewer's key id
names the lease, so the API and the console share one reviewer's claims."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.console.pages import is_htmx, render, see_other, state_of
from gateway.console.session import Changer, ConsoleUser, Viewer
from gateway.errors import GatewayError, LabelUnknownError, RubricNotFoundError
from gateway.server.state import AppState
from gateway.store import QueueItem

router = APIRouter()


def _ranked(item: QueueItem, labels: list[str]) -> list[str]:
    """The axis' labels, most probable first: number keys pick among the first nine."""
    scores = item.snapshot.primary.scores
    return sorted(labels, key=lambda name: (-scores.get(name, 0.0), name))


def _next(state: AppState, user: ConsoleUser, rubric: str | None) -> dict[str, Any]:
    """Claim the next item for this reviewer; what the item template shows."""
    store = state.store
    assert store is not None
    if rubric is not None:
        user.principal.check_rubric(rubric)
    items = store.claim(
        reviewer=user.who,
        rubric=rubric,
        limit=1,
        lease_s=state.settings.store.lease_s,
        explore=state.settings.store.explore,
    )
    left = store.queue_size(rubric=rubric)
    if not items:
        return {"item": None, "left": left, "rubric": rubric}
    item = items[0]
    snap = item.snapshot
    try:
        served = state.rubrics.get(snap.rubric)
        labels = served.axes[snap.axis].names if snap.axis in served.axes else []
    except RubricNotFoundError:
        labels = []
    return {
        "item": item,
        "left": left,
        "rubric": rubric,
        "labels": _ranked(item, labels),
        "bars": sorted(snap.primary.scores.items(), key=lambda kv: -kv[1])[:8],
    }


def _page(
    request: Request, user: ConsoleUser, context: dict[str, Any], error: str | None = None
) -> HTMLResponse:
    template = "_review_item.html" if is_htmx(request) else "review.html"
    return render(request, template, user, error=error, page="review", **context)


def _refused(request: Request, user: ConsoleUser) -> HTMLResponse | None:
    if not user.can("reviewer"):
        return render(
            request, "error.html", user, 403, message="The queue needs the reviewer role."
        )
    if state_of(request).store is None:
        return render(request, "error.html", user, 503, message="The store is not open.")
    return None


@router.get("/review", response_class=HTMLResponse)
async def queue(request: Request, user: Viewer, rubric: str | None = None) -> HTMLResponse:
    refused = _refused(request, user)
    if refused is not None:
        return refused
    state = state_of(request)
    try:
        context = await anyio.to_thread.run_sync(_next, state, user, rubric or None)
    except GatewayError as exc:
        return render(request, "error.html", user, exc.status, message=exc.message)
    return _page(request, user, context)


def _act(state: AppState, user: ConsoleUser, item_id: int, label: str | None) -> None:
    store = state.store
    assert store is not None
    item = store.item(item_id)
    user.principal.check_rubric(item.snapshot.rubric)
    if label is None:
        store.skip(item_id, reviewer=user.who)
        return
    axis = item.snapshot.axis
    served = state.rubrics.get(item.snapshot.rubric)
    if axis not in served.axes or label not in served.axes[axis].names:
        raise LabelUnknownError(f"label {label!r} is not in axis {axis!r} of the rubric now")
    store.label(item_id, axis=axis, label=label, who=user.who, source="review", reviewer=user.who)


async def _after(
    request: Request, user: ConsoleUser, item_id: int, label: str | None, rubric: str
) -> HTMLResponse | RedirectResponse:
    refused = _refused(request, user)
    if refused is not None:
        return refused
    state = state_of(request)
    error = None
    try:
        await anyio.to_thread.run_sync(_act, state, user, item_id, label)
    except GatewayError as exc:
        error = exc.message
    if not is_htmx(request) and error is None:
        return see_other(f"/ui/review?{urlencode({'rubric': rubric})}" if rubric else "/ui/review")
    context = await anyio.to_thread.run_sync(_next, state, user, rubric or None)
    return _page(request, user, context, error)


@router.post("/review/{item_id}/label", response_model=None)
async def label(
    request: Request,
    user: Changer,
    item_id: int,
    label: Annotated[str, Form(max_length=200)],
    rubric: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse | RedirectResponse:
    return await _after(request, user, item_id, label, rubric)


@router.post("/review/{item_id}/skip", response_model=None)
async def skip(
    request: Request,
    user: Changer,
    item_id: int,
    rubric: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse | RedirectResponse:
    return await _after(request, user, item_id, None, rubric)

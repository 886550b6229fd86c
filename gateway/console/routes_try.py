"""The Try box (one ticket, saved and draft side by side) and the eval delta (a labelled set,
saved against draft), both on the served classifier's models."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from gateway.console.delta import CORRECTIONS, Delta, labelled_tickets, run_delta, suite_sets
from gateway.console.drafts import check_draft, draft_classifier
from gateway.console.pages import (
    classifier_of,
    is_htmx,
    jobs_of,
    options_of,
    render,
    see_other,
    state_of,
)
from gateway.console.routes_rubrics import served_path
from gateway.console.session import Changer, Viewer
from gateway.errors import GatewayError, RubricNotFoundError
from gateway.pipeline import Classifier
from gateway.schemas import ClassifyRequest, ClassifyResponse

router = APIRouter()
Text = Annotated[str, Form()]


class Side(BaseModel):
    """One version's answer to the Try box, or why it has none."""

    title: str
    response: ClassifyResponse | None = None
    error: str | None = None

    def bars(self, n: int = 8) -> list[tuple[str, float]]:
        if self.response is None:
            return []
        ranked = sorted(self.response.scores.items(), key=lambda kv: -kv[1])
        return ranked[:n]


async def _answer(classifier: Classifier, req: ClassifyRequest, title: str) -> Side:
    (outcome,) = await classifier.classify_many([req])
    if isinstance(outcome, GatewayError):
        return Side(title=title, error=f"{outcome.code}: {outcome.message}")
    return Side(title=title, response=outcome)


def _loading(request: Request, user: Viewer) -> HTMLResponse:
    return render(
        request, "error.html", user, 503, message="The model is still loading; retry shortly."
    )


@router.post("/rubrics/{name}/try", response_class=HTMLResponse)
async def try_ticket(
    request: Request, user: Changer, name: str, source: Text, text: Text
) -> HTMLResponse:
    served = classifier_of(request)
    if served is None:
        return _loading(request, user)
    try:
        path = served_path(state_of(request).rubrics, name)
        req = ClassifyRequest(text=text, rubric=name)
    except RubricNotFoundError as exc:
        return render(request, "error.html", user, 404, message=exc.message)
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors(include_input=False))
        return render(request, "error.html", user, 422, message=f"Not a ticket: {reasons}")
    saved = await _answer(served, req, "saved")
    checked = await anyio.to_thread.run_sync(check_draft, source, path, name)
    if checked.ok:
        with draft_classifier(served, source, path) as draft_cls:
            draft = await _answer(draft_cls, req, "draft")
    else:
        draft = Side(title="draft", error="the draft has problems: fix them to try it")
    template = "_try.html" if is_htmx(request) else "try_page.html"
    return render(request, template, user, name=name, sides=[saved, draft], page="rubrics")


@router.post("/rubrics/{name}/delta", response_model=None)
async def start_delta(
    request: Request,
    user: Changer,
    name: str,
    source: Text,
    labelled: Annotated[str, Form(alias="set")] = CORRECTIONS,
) -> HTMLResponse | RedirectResponse:
    served = classifier_of(request)
    if served is None:
        return _loading(request, user)
    state = state_of(request)
    options = options_of(request)
    try:
        path = served_path(state.rubrics, name)
    except RubricNotFoundError as exc:
        return render(request, "error.html", user, 404, message=exc.message)
    checked = await anyio.to_thread.run_sync(check_draft, source, path, name)
    if not checked.ok or checked.rubric is None:
        return render(
            request, "error.html", user, 422, message="The draft has problems: fix them first."
        )
    saved_rubric = state.rubrics.get(name)
    draft_rubric = checked.rubric
    titles = {s.id: s.title for s in suite_sets(options.suites_dir, name)}
    if labelled not in titles:
        return render(request, "error.html", user, 404, message="No such labelled set.")
    try:
        tickets, axis, share = await anyio.to_thread.run_sync(
            labelled_tickets,
            labelled,
            options.suites_dir,
            state.store,
            saved_rubric,
            options.delta_limit,
        )
    except (GatewayError, ValueError) as exc:
        message = exc.message if isinstance(exc, GatewayError) else str(exc)
        return render(request, "error.html", user, 422, message=message)
    jobs = jobs_of(request)
    job = jobs.new(name, titles[labelled])

    async def work() -> Delta:
        with draft_classifier(served, source, path) as draft_cls:
            return await run_delta(
                job, served, draft_cls, saved_rubric, draft_rubric, tickets, axis, share
            )

    jobs.start(job, work())
    if is_htmx(request):
        return render(request, "_delta.html", user, job=job)
    return see_other(f"/ui/deltas/{job.id}")


@router.get("/deltas/{job_id}", response_class=HTMLResponse)
async def delta_status(request: Request, user: Viewer, job_id: str) -> HTMLResponse:
    job = jobs_of(request).jobs.get(job_id)
    if job is None:
        return render(request, "error.html", user, 404, message="No such eval delta (expired?).")
    template = "_delta.html" if is_htmx(request) else "delta_page.html"
    return render(request, template, user, job=job, page="rubrics")

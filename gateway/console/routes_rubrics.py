"""The rubrics list, the editor (live check, save) and each set's version history (diff,
restore)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from gateway.console.delta import suite_sets
from gateway.console.drafts import Checked, check_draft
from gateway.console.history import RubricHistory
from gateway.console.pages import is_htmx, jobs_of, options_of, render, see_other, state_of
from gateway.console.session import Changer, ConsoleUser, Viewer
from gateway.console.summary import drift_of
from gateway.errors import RubricNotFoundError
from gateway.rubrics import RubricStore

router = APIRouter()
# no length bound here: the body limit applies, and the check reports an over-long file
Source = Annotated[str, Form()]


def served_path(rubrics: RubricStore, name: str) -> Path:
    path = rubrics.path_of(name)
    if path is None:
        raise RubricNotFoundError(f"unknown rubric set {name!r}")
    return path


def _not_found(request: Request, user: ConsoleUser, name: str) -> HTMLResponse:
    return render(request, "error.html", user, 404, message=f"No rubric set named {name!r}.")


@router.get("/", response_class=HTMLResponse)
async def rubrics_list(request: Request, user: Viewer) -> HTMLResponse:
    state = state_of(request)

    def gather() -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for info in state.rubrics.list():
            rubric = state.rubrics.get(info.name)
            drift = None
            if state.store is not None:
                axis = rubric.primary_axis
                points = state.store.drift_points(rubric=info.name, axis=axis)
                drift = drift_of(points, rubric, state.settings) if points else None
            rows.append(
                {
                    "info": info,
                    "file": Path(info.path).name,
                    "problems": state.rubrics.errors.get(info.path, []),
                    "drift": drift,
                    "versions": len(RubricHistory(Path(info.path)).versions()),
                }
            )
        return rows

    rows = await anyio.to_thread.run_sync(gather)
    served = {str(r["info"].path) for r in rows}  # type: ignore[attr-defined]
    broken = {p: errs for p, errs in state.rubrics.errors.items() if p not in served}
    deltas = {}
    for job in jobs_of(request).jobs.values():
        if job.result is not None:
            deltas[job.rubric] = job
    return render(
        request, "rubrics.html", user, rows=rows, broken=broken, deltas=deltas, page="rubrics"
    )


def _editor(
    request: Request,
    user: ConsoleUser,
    name: str,
    source: str,
    checked: Checked,
    status: int = 200,
    saved: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "editor.html",
        user,
        status,
        name=name,
        source=source,
        checked=checked,
        saved=saved,
        sets=suite_sets(options_of(request).suites_dir, name),
        page="rubrics",
    )


@router.get("/rubrics/{name}", response_class=HTMLResponse)
async def editor(
    request: Request, user: Viewer, name: str, saved: str | None = None
) -> HTMLResponse:
    rubrics = state_of(request).rubrics
    try:
        path = served_path(rubrics, name)
    except RubricNotFoundError:
        return _not_found(request, user, name)
    source = path.read_text(encoding="utf-8")
    checked = await anyio.to_thread.run_sync(check_draft, source, path, name)
    return _editor(request, user, name, source, checked, saved=saved)


@router.post("/rubrics/{name}/check", response_class=HTMLResponse)
async def check(request: Request, user: Changer, name: str, source: Source) -> HTMLResponse:
    """The draft's problems: the problems panel for htmx, else the editor page again."""
    rubrics = state_of(request).rubrics
    try:
        path = served_path(rubrics, name)
    except RubricNotFoundError:
        return _not_found(request, user, name)
    checked = await anyio.to_thread.run_sync(check_draft, source, path, name)
    if is_htmx(request):
        return render(request, "_problems.html", user, checked=checked, source=source)
    return _editor(request, user, name, source, checked)


@router.post("/rubrics/{name}/save", response_model=None)
async def save(
    request: Request, user: Changer, name: str, source: Source
) -> HTMLResponse | RedirectResponse:
    """Editor role; a draft with problems is refused (422, the editor with its problems)."""
    if not user.can("editor"):
        return render(
            request, "error.html", user, 403, message="Saving needs a key with the editor role."
        )
    state = state_of(request)
    try:
        path = served_path(state.rubrics, name)
    except RubricNotFoundError:
        return _not_found(request, user, name)
    checked = await anyio.to_thread.run_sync(check_draft, source, path, name)
    if not checked.ok:
        return _editor(request, user, name, source, checked, status=422)

    def write() -> str:
        version = RubricHistory(path).save(source, user.who)
        # served now, not at the next reload tick
        state.rubrics.refresh(force=True)
        return f"v{version.number} {version.fingerprint[:12]}"

    saved = await anyio.to_thread.run_sync(write)
    return see_other(f"/ui/rubrics/{name}?saved={saved.replace(' ', '+')}")


@router.get("/rubrics/{name}/history", response_class=HTMLResponse)
async def history(
    request: Request, user: Viewer, name: str, version: int | None = None
) -> HTMLResponse:
    rubrics = state_of(request).rubrics
    try:
        path = served_path(rubrics, name)
    except RubricNotFoundError:
        return _not_found(request, user, name)
    log = RubricHistory(path)
    versions = list(reversed(log.versions()))
    shown = version if version is not None else (versions[0].number if versions else None)
    try:
        diff = log.diff(shown) if shown is not None else []
    except RubricNotFoundError:
        return render(request, "error.html", user, 404, message=f"No version {shown}.")
    current = rubrics.get(name).fingerprint
    return render(
        request,
        "history.html",
        user,
        name=name,
        versions=versions,
        shown=shown,
        diff=diff,
        current=current,
        page="rubrics",
    )


@router.post("/rubrics/{name}/restore", response_model=None)
async def restore(
    request: Request, user: Changer, name: str, version: Annotated[int, Form()]
) -> HTMLResponse | RedirectResponse:
    if not user.can("editor"):
        return render(request, "error.html", user, 403, message="Restoring needs the editor role.")
    state = state_of(request)
    try:
        path = served_path(state.rubrics, name)
        source = RubricHistory(path).source(version)
    except RubricNotFoundError as exc:
        return render(request, "error.html", user, 404, message=exc.message)
    checked = await anyio.to_thread.run_sync(check_draft, source, path, name)
    if not checked.ok:  # e.g. another file took the name since
        return _editor(request, user, name, source, checked, status=422)

    def write() -> str:
        saved = RubricHistory(path).save(source, user.who, note=f"restore of v{version}")
        state.rubrics.refresh(force=True)
        return f"v{saved.number} {saved.fingerprint[:12]}"

    saved = await anyio.to_thread.run_sync(write)
    return see_other(f"/ui/rubrics/{name}?saved={saved.replace(' ', '+')}")

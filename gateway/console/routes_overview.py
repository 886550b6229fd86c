"""The overview: per rubric set, label shares over time, queue size, auto-route share and
drift warnings, as inline SVG."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gateway.console.charts import line, stacked_shares
from gateway.console.pages import render, state_of
from gateway.console.session import Viewer
from gateway.console.summary import Traffic, traffic

router = APIRouter()


@router.get("/overview", response_class=HTMLResponse)
async def overview(request: Request, user: Viewer) -> HTMLResponse:
    state = state_of(request)
    if state.store is None:
        return render(request, "error.html", user, 503, message="The store is not open.")
    store = state.store

    def gather() -> list[Traffic]:
        return [
            traffic(store, state.rubrics.get(info.name), state.settings)
            for info in state.rubrics.list()
        ]

    sets = await anyio.to_thread.run_sync(gather)
    charts = {
        t.rubric: (
            stacked_shares(f"{t.rubric}: label shares by day", t.days, t.shares, t.series),
            line(f"{t.rubric}: auto-route share by day", t.days, t.auto_route),
        )
        for t in sets
        if t.days
    }
    return render(request, "overview.html", user, sets=sets, charts=charts, page="overview")

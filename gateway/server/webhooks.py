"""``POST /webhooks/{helpdesk}/{connection}``: helpdesk webhooks in (DESIGN.md §3).

Who may call it: the helpdesk, proven by its signature (or, Freshdesk, its secret); API keys do
not apply. The route verifies, reads the event and queues a job (the store's queue, or Redis'
with ``GATEWAY_REDIS_URL``, the store's while Redis is down): it answers within a second and
does the work in the background (``gateway.connectors``' worker). 401 on a bad
signature, and nothing is queued; a replayed webhook answers 200 ``duplicate``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.connectors import Connectors, build_connectors, event_job
from gateway.errors import GatewayError, NotReadyError
from gateway.schemas import ErrorBody
from gateway.server.deps import State, ready_store
from gateway.server.state import AppState

log = logging.getLogger("gateway")
router = APIRouter()

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 413, 422, 503)
}


class WebhookAck(BaseModel):
    status: Literal["queued", "duplicate", "ignored"]
    job: int | None = None


@router.post(
    "/webhooks/{helpdesk}/{connection}",
    response_model=WebhookAck,
    status_code=202,
    responses={**_ERRORS, 200: {"model": WebhookAck}},
)
async def webhook(helpdesk: str, connection: str, request: Request, state: State) -> JSONResponse:
    connectors: Connectors | None = getattr(request.app.state, "connectors", None)
    if connectors is None:
        # the reason names server paths: it is in the log, not for an unauthenticated sender
        failed = getattr(request.app.state, "connectors_error", None) is not None
        raise NotReadyError(
            "the helpdesk connectors failed to start; the reason is in the server log"
            if failed
            else "the helpdesk connectors are starting; retry shortly"
        )
    vendor, linked = connectors.hub.get(helpdesk, connection)
    body = await request.body()
    vendor.verify(
        linked,
        request.headers,
        body,
        now=time.time(),
        max_age_s=state.settings.connectors.signature_max_age_s,
    )
    event = vendor.event(request.headers, body)
    if event is None:
        return JSONResponse(WebhookAck(status="ignored").model_dump(), status_code=200)
    store = ready_store(state)
    job, created = await connectors.intake(store).submit(event_job(helpdesk, connection, event))
    if created:
        connectors.wake()
    ack = WebhookAck(status="queued" if created else "duplicate", job=job.id)
    return JSONResponse(ack.model_dump(), status_code=202 if created else 200)


async def start_connectors(app: FastAPI, state: AppState) -> None:
    """Read the connections and, once the store and the model are loaded, start the worker.
    A bad connections file is logged and answered as 503 by the route, not a failed start."""
    try:
        connectors = await anyio.to_thread.run_sync(build_connectors, state.settings)
    except GatewayError as exc:
        app.state.connectors_error = exc.message
        log.error("helpdesk connectors not started: %s", exc.message)
        return
    app.state.connectors = connectors
    if connectors.hub.connections and state.settings.connectors.worker:
        # the model loads in the background: the worker starts when it has
        app.state.connectors_start = asyncio.get_running_loop().create_task(
            _start_worker(connectors, state)
        )


async def _start_worker(connectors: Connectors, state: AppState) -> None:
    await anyio.to_thread.run_sync(state.loaded.wait)
    if state.store is None or state.classifier is None:
        log.error("helpdesk job worker not started: the store or the model did not load")
        return
    connectors.start_worker(state.store, state.classifier, state.record)


async def stop_connectors(app: FastAPI) -> None:
    starting: asyncio.Task[None] | None = getattr(app.state, "connectors_start", None)
    if starting is not None:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
    connectors: Connectors | None = getattr(app.state, "connectors", None)
    if connectors is not None:
        await connectors.aclose()

"""HTTP routes: /classify, /classify/batch, /rubrics, /healthz, /metrics (DESIGN.md §3).

Errors leave through ``server.errors``; messages carry no ticket text.
"""

from __future__ import annotations

import os
import time

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway.errors import BatchTooLargeError, GatewayError
from gateway.rubrics import RubricStore
from gateway.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorBody,
    Health,
    HealthStatus,
    RubricList,
    RubricListItem,
)
from gateway.server.deps import Caller, Identified, Ready, SeesDetails, State
from gateway.server.errors import error_body, validation_error
from gateway.server.metrics import METRICS_CONTENT_TYPE
from gateway.server.security import Principal, authorize_scrape
from gateway.slots import Slots

router = APIRouter()

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 422, 429, 503)
}
_READ_ERRORS: dict[int | str, dict[str, object]] = {401: {"model": ErrorBody}}


@router.post("/classify", response_model=ClassifyResponse, responses=_ERRORS)
async def classify(
    body: ClassifyRequest, principal: Caller, state: State, classifier: Ready
) -> ClassifyResponse:
    principal.check_rubric(classifier.rubric_name(body))
    resp = await classifier.classify(body)
    state.metrics.response(resp)
    state.record(resp)
    return resp


@router.post("/classify/batch", response_model=BatchResponse, responses=_ERRORS)
async def classify_batch(
    body: BatchRequest, principal: Caller, state: State, classifier: Ready
) -> BatchResponse:
    limit = classifier.settings.limits.max_batch
    if len(body.items) > limit:
        raise BatchTooLargeError(f"batch has {len(body.items)} items; the limit is {limit}")
    started = time.perf_counter()
    slots: Slots[BatchItem] = Slots(len(body.items))
    valid: list[ClassifyRequest] = []
    positions: list[int] = []
    for index, item in enumerate(body.items):
        try:
            valid.append(ClassifyRequest.model_validate(item))
            positions.append(index)
        except ValidationError as exc:
            slots[index] = BatchItem(index=index, error=error_body(validation_error(exc)).error)
    for req in valid:
        principal.check_rubric(classifier.rubric_name(req))
    outcomes = await classifier.classify_many(valid)
    for index, outcome in zip(positions, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            slots[index] = BatchItem(index=index, error=error_body(outcome).error)
        else:
            state.metrics.response(outcome)
            state.record(outcome, index)
            slots[index] = BatchItem(index=index, result=outcome)
    results = slots.filled()
    failed = sum(1 for r in results if r.error is not None)
    return BatchResponse(
        results=results,
        ok=len(results) - failed,
        failed=failed,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


@router.get("/rubrics", response_model=RubricList, responses=_READ_ERRORS)
async def rubrics(state: State, principal: Identified) -> RubricList:
    # a listing may reload changed files (YAML parsing): off the event loop
    return await anyio.to_thread.run_sync(rubric_listing, state.rubrics, principal)


def rubric_listing(store: RubricStore, principal: Principal) -> RubricList:
    """The rubric sets the caller may use and, under a key restricted to some sets, only their
    files' problems. Files are named relative to the rubrics directory: no server paths."""
    infos = [info for info in store.list() if principal.may_use(info.name)]
    errors = dict(store.errors)
    if principal.restricted:
        own = {info.path for info in infos}
        errors = {path: problems for path, problems in errors.items() if path in own}
    inside = f"{store.directory}{os.sep}"
    return RubricList(
        rubrics=[
            RubricListItem(name=i.name, fingerprint=i.fingerprint, axes=i.axes, rules=i.rules)
            for i in infos
        ],
        errors={
            path.removeprefix(inside): [problem.replace(inside, "") for problem in problems]
            for path, problems in errors.items()
        },
    )


# /healthz stays open (load balancers): it says why start-up failed only to those who may know
# (the reason can name server paths); everyone else is pointed at the log.
_FAILED_SEE_LOG = "start-up failed; the reason is in the server log (or send an API key)"


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(state: State, details: SeesDetails) -> JSONResponse:
    """200 ``ready``; 200 ``degraded`` when the model provider was unreachable at the last
    contact (still serving: a provider outage is not this instance's, so a load balancer should
    keep it), or Redis was (``GATEWAY_REDIS_URL``: this replica answers from its own cache and
    limits); 503 ``starting`` or ``failed``. The provider's status is what was last heard; a
    stale one is refreshed by a probe in the background, never awaited here; Redis' is the
    link's last check or command."""
    classifier = state.classifier
    startup_error = state.startup_error
    if startup_error and not details:
        startup_error = _FAILED_SEE_LOG
    provider = None
    if state.provider_health is not None and classifier is not None:
        state.provider_health.refresh_soon()
        provider = state.provider_health.snapshot()
    status: HealthStatus = (
        "ready" if classifier else "failed" if state.startup_error else "starting"
    )
    if provider is not None and provider.reachable is False:
        status = "degraded"
    redis = state.link.status() if state.link is not None else None
    if redis is not None and not redis.up and classifier is not None:
        status = "degraded"  # serving from this replica's own cache and limits
    health = Health(
        status=status,
        scorer=classifier.scorer.name if classifier else "",
        model=classifier.scorer.model if classifier else "",
        rubrics=len(state.rubrics),
        rubric_errors=len(state.rubrics.errors),
        startup_error=startup_error,
        provider=provider,
        redis=redis,
    )
    return JSONResponse(health.model_dump(mode="json"), status_code=200 if classifier else 503)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(authorize_scrape)])
async def metrics(state: State) -> Response:
    """Prometheus text format: this process' counters, or every worker's summed when
    PROMETHEUS_MULTIPROC_DIR is set (``rubric serve --workers N``; gateway.server.telemetry).
    A scrape key or an unrestricted API key when keys are configured (``authorize_scrape``)."""
    return Response(state.metrics.text(), media_type=METRICS_CONTENT_TYPE)

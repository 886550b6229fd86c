"""HTTP routes: /classify, /classify/batch, /rubrics, /healthz, /metrics (DESIGN.md §3).

Errors leave through ``server.errors``; messages carry no ticket text.
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway.errors import BatchTooLargeError, GatewayError
from gateway.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorBody,
    Health,
    RubricList,
    RubricListItem,
)
from gateway.server.deps import Caller, Ready, State
from gateway.server.errors import error_body, validation_error
from gateway.server.metrics import METRICS_CONTENT_TYPE
from gateway.slots import Slots

router = APIRouter()

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 422, 429, 503)
}


@router.post("/classify", response_model=ClassifyResponse, responses=_ERRORS)
async def classify(
    body: ClassifyRequest, state: State, classifier: Ready, principal: Caller
) -> ClassifyResponse:
    principal.check_rubric(classifier.rubric_name(body))
    resp = await classifier.classify(body)
    state.metrics.response(resp)
    return resp


@router.post("/classify/batch", response_model=BatchResponse, responses=_ERRORS)
async def classify_batch(
    body: BatchRequest, state: State, classifier: Ready, principal: Caller
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
            slots[index] = BatchItem(index=index, result=outcome)
    results = slots.filled()
    failed = sum(1 for r in results if r.error is not None)
    return BatchResponse(
        results=results,
        ok=len(results) - failed,
        failed=failed,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


@router.get("/rubrics", response_model=RubricList)
async def rubrics(state: State) -> RubricList:
    store = state.rubrics
    return RubricList(
        rubrics=[
            RubricListItem(name=i.name, fingerprint=i.fingerprint, axes=i.axes, rules=i.rules)
            for i in store.list()
        ],
        errors=store.errors,
    )


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(state: State) -> JSONResponse:
    classifier = state.classifier
    health = Health(
        status="ready" if classifier else "failed" if state.startup_error else "starting",
        scorer=classifier.scorer.name if classifier else "",
        model=classifier.scorer.model if classifier else "",
        rubrics=len(state.rubrics),
        rubric_errors=len(state.rubrics.errors),
        startup_error=state.startup_error,
    )
    return JSONResponse(health.model_dump(), status_code=200 if classifier else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(state: State) -> Response:
    """Prometheus text format: this process' counters, or every worker's summed when
    PROMETHEUS_MULTIPROC_DIR is set (``rubric serve --workers N``; gateway.server.telemetry)."""
    return Response(state.metrics.text(), media_type=METRICS_CONTENT_TYPE)

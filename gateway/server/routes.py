"""HTTP routes. Errors leave through one handler per error family; messages carry no ticket text."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.errors import BatchTooLargeError, GatewayError, NotReadyError
from gateway.pipeline.classifier import Classifier
from gateway.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorBody,
    ErrorDetail,
    Health,
    RubricList,
    RubricListItem,
)
from gateway.server import telemetry
from gateway.server.security import INLINE, Principal, authorize

if TYPE_CHECKING:
    from gateway.server.app import AppState

log = logging.getLogger("gateway.server.routes")
router = APIRouter()
Caller = Annotated[Principal, Depends(authorize)]

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 413, 422, 429, 503)
}


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.gateway
    return state


def _classifier(request: Request) -> Classifier:
    state = _state(request)
    if state.classifier is None:
        if state.startup_error:
            raise NotReadyError(f"the gateway failed to start: {state.startup_error}")
        raise NotReadyError("the model is still loading; retry shortly")
    return state.classifier


def _validation_message(exc: ValidationError | RequestValidationError) -> tuple[str, str]:
    """Field locations and reasons only: pydantic's own text would echo the input back."""
    parts = []
    code = "invalid_request"
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            code = "invalid_json"
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return code, "; ".join(parts)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        headers = None
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            headers = {"Retry-After": str(max(1, round(retry_after)))}
        return _error(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message = _validation_message(exc)
        return _error(400 if code == "invalid_json" else 422, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The edge of the app: log the type and place, never the request body.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return _error(500, "internal_error", "internal error; see the server log")


def _check_rubric(principal: Principal, classifier: Classifier, req: ClassifyRequest) -> None:
    """403 when the caller's key is restricted to other rubric sets (inline labels: 'inline')."""
    name = INLINE if req.labels is not None else (req.rubric or classifier.settings.rubrics.default)
    principal.check_rubric(name)


@router.post("/classify", response_model=ClassifyResponse, responses=_ERRORS)
async def classify(body: ClassifyRequest, request: Request, principal: Caller) -> ClassifyResponse:
    classifier = _classifier(request)
    _check_rubric(principal, classifier, body)
    resp = await classifier.classify(body)
    telemetry.observe_response(resp)
    return resp


@router.post("/classify/batch", response_model=BatchResponse, responses=_ERRORS)
async def classify_batch(body: BatchRequest, request: Request, principal: Caller) -> BatchResponse:
    classifier = _classifier(request)
    limit = classifier.settings.limits.max_batch
    if len(body.items) > limit:
        raise BatchTooLargeError(f"batch has {len(body.items)} items; the limit is {limit}")
    started = time.perf_counter()
    slots: list[BatchItem | None] = []
    valid: list[ClassifyRequest] = []
    positions: list[int] = []
    for index, item in enumerate(body.items):
        try:
            valid.append(ClassifyRequest.model_validate(item))
            positions.append(index)
            slots.append(None)
        except ValidationError as exc:
            code, message = _validation_message(exc)
            slots.append(BatchItem(index=index, error=ErrorDetail(code=code, message=message)))
    for req in valid:
        _check_rubric(principal, classifier, req)
    outcomes = await classifier.classify_many(valid)
    for index, outcome in zip(positions, outcomes, strict=True):
        if isinstance(outcome, GatewayError):
            slots[index] = BatchItem(
                index=index, error=ErrorDetail(code=outcome.code, message=outcome.message)
            )
        else:
            telemetry.observe_response(outcome)
            slots[index] = BatchItem(index=index, result=outcome)
    results = [slot for slot in slots if slot is not None]
    failed = sum(1 for r in results if r.error is not None)
    return BatchResponse(
        results=results,
        ok=len(results) - failed,
        failed=failed,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )


@router.get("/rubrics", response_model=RubricList)
async def rubrics(request: Request) -> RubricList:
    store = _state(request).rubrics
    return RubricList(
        rubrics=[
            RubricListItem(name=i.name, fingerprint=i.fingerprint, axes=i.axes, rules=i.rules)
            for i in store.list()
        ],
        errors=store.errors,
    )


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request) -> JSONResponse:
    state = _state(request)
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
async def metrics() -> Response:
    """Prometheus text format: this process' counters, or every worker's summed when
    PROMETHEUS_MULTIPROC_DIR is set (``rubric serve --workers N``; gateway.server.telemetry)."""
    return Response(telemetry.metrics_text(), media_type=telemetry.METRICS_CONTENT_TYPE)

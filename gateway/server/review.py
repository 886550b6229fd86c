"""The review and feedback API: the queue, labels, feedback from any tool, and the export.

Every store call runs in a worker thread (SQLite and psycopg block), so a slow store never
stalls the event loop. Labels are checked against the rubric as it is *now*: a label an edit
removed is a 409 ``label_unknown`` naming the labels there are, not silently kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from gateway.errors import InvalidRequestError, LabelUnknownError, RubricNotFoundError
from gateway.rubrics import RubricSet, RubricStore
from gateway.schemas import ErrorBody, FeedbackBody, LabelBody, Ref, SkipBody
from gateway.server.deps import Identified, State, Stored
from gateway.server.security import Principal
from gateway.store import LabelRecord, QueueItem, ShadowPrediction, Snapshot

router = APIRouter()

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody} for status in (401, 403, 404, 409, 422, 503)
}
T = TypeVar("T")


class ReviewItem(BaseModel):
    """A queue entry for a reviewer: the redacted text, what the model said, and which labels
    the rubric has now."""

    id: int
    text: str
    external_id: str | None
    rubric: str
    axis: str
    predicted: str
    scores: dict[str, float]
    decision: str
    reason: str
    shadow: list[ShadowPrediction]
    labels: list[str] = Field(description="the axis' labels in the rubric as it is now")
    rubric_changed: bool = Field(description="the rubric was edited since this was classified")
    stale_labels: list[str] = Field(
        description="labels the prediction used that the rubric no longer has"
    )
    lease_until: datetime | None


class ReviewQueue(BaseModel):
    items: list[ReviewItem]
    open: int = Field(description="items waiting in the queue (this rubric, or all)")
    lease_s: float


class LabelResult(BaseModel):
    label: LabelRecord
    created: bool = Field(description="false: the same label was already recorded (idempotent)")
    predicted: str = Field(description="what the model had said on this axis")


async def _off_loop(fn: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(fn)


def _who(principal: Principal, person: str | None) -> str:
    return f"{principal.who}/{person}" if person else principal.who


def _rubric(rubrics: RubricStore, name: str) -> RubricSet:
    try:
        return rubrics.get(name)
    except RubricNotFoundError:
        raise RubricNotFoundError(
            f"rubric set {name!r} is no longer served; its items cannot be labelled"
        ) from None


def _check_label(rubric: RubricSet, axis: str, label: str) -> None:
    if axis not in rubric.axes:
        raise LabelUnknownError(
            f"rubric set {rubric.name!r} has no axis {axis!r} now; axes: {list(rubric.axes)}"
        )
    names = rubric.axes[axis].names
    if label not in names:
        raise LabelUnknownError(
            f"label {label!r} is not in axis {axis!r} of rubric set {rubric.name!r} as it is "
            f"now; labels: {names}"
        )


def _review_item(item: QueueItem, rubrics: RubricStore) -> ReviewItem:
    snap: Snapshot = item.snapshot
    primary = snap.primary
    try:
        rubric: RubricSet | None = rubrics.get(snap.rubric)
    except RubricNotFoundError:
        rubric = None
    labels = rubric.axes[snap.axis].names if rubric and snap.axis in rubric.axes else []
    return ReviewItem(
        id=item.id,
        text=item.text,
        external_id=item.external_id,
        rubric=snap.rubric,
        axis=snap.axis,
        predicted=primary.top_label,
        scores=primary.scores,
        decision=snap.decision,
        reason=snap.reason,
        shadow=item.shadow,
        labels=labels,
        rubric_changed=rubric is None or rubric.fingerprint != snap.fingerprint,
        stale_labels=sorted(set(primary.scores) - set(labels)),
        lease_until=item.lease_until,
    )


@router.get("/review/queue", response_model=ReviewQueue, responses=_ERRORS)
async def review_queue(
    state: State,
    store: Stored,
    principal: Identified,
    rubric: Annotated[Ref | None, Query()] = None,
    axis: Annotated[Ref | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    reviewer: Annotated[Ref | None, Query(description="the person claiming")] = None,
) -> ReviewQueue:
    """Claims up to ``limit`` items (most informative first: smallest margin, then oldest) for
    this reviewer for ``GATEWAY_REVIEW_LEASE_S``; asking again returns the same items first."""
    principal.require("reviewer")
    if rubric is None and principal.restricted:
        raise InvalidRequestError("this API key is restricted to some rubric sets: name one")
    if rubric is not None:
        principal.check_rubric(rubric)
    lease_s = state.settings.store.lease_s
    who = _who(principal, reviewer)

    def claim() -> tuple[list[QueueItem], int]:
        items = store.claim(
            reviewer=who,
            rubric=rubric,
            axis=axis,
            limit=limit,
            lease_s=lease_s,
            explore=state.settings.store.explore,
        )
        return items, store.queue_size(rubric=rubric)

    items, size = await _off_loop(claim)
    return ReviewQueue(
        items=[_review_item(item, state.rubrics) for item in items], open=size, lease_s=lease_s
    )


@router.post("/review/{item_id}/label", response_model=LabelResult, responses=_ERRORS)
async def review_label(
    item_id: int, body: LabelBody, state: State, store: Stored, principal: Identified
) -> LabelResult:
    principal.require("reviewer")
    who = _who(principal, body.reviewer)

    def label() -> LabelResult:
        item = store.item(item_id)
        principal.check_rubric(item.snapshot.rubric)
        axis = body.axis or item.snapshot.axis
        _check_label(_rubric(state.rubrics, item.snapshot.rubric), axis, body.label)
        record = store.label(
            item_id, axis=axis, label=body.label, who=who, source="review", reviewer=who
        )
        predicted = item.snapshot.axes[axis].top_label if axis in item.snapshot.axes else ""
        return LabelResult(label=record, created=True, predicted=predicted)

    return await _off_loop(label)


@router.post("/review/{item_id}/skip", status_code=204, responses=_ERRORS)
async def review_skip(
    item_id: int, store: Stored, principal: Identified, body: SkipBody | None = None
) -> Response:
    """Releases the item; it goes behind the items nobody has skipped."""
    principal.require("reviewer")
    who = _who(principal, body.reviewer if body else None)

    def skip() -> None:
        principal.check_rubric(store.item(item_id).snapshot.rubric)
        store.skip(item_id, reviewer=who)

    await _off_loop(skip)
    return Response(status_code=204)


@router.post("/feedback", response_model=LabelResult, responses=_ERRORS)
async def feedback(
    body: FeedbackBody, response: Response, state: State, store: Stored, principal: Identified
) -> LabelResult:
    """A correction for any classified ticket, by request id or external id. Idempotent: the
    same correction again is 200 with ``created: false``; a new one is 201."""
    principal.require("feedback")
    if body.rubric is not None:
        principal.check_rubric(body.rubric)

    def record() -> LabelResult:
        def check(snapshot: Snapshot) -> str:
            principal.check_rubric(snapshot.rubric)
            axis = body.axis or snapshot.axis
            _check_label(_rubric(state.rubrics, snapshot.rubric), axis, body.label)
            return axis

        label, snapshot, created = store.feedback(
            request_id=body.request_id,
            external_id=body.external_id,
            rubric=body.rubric,
            axis=body.axis,
            label=body.label,
            who=_who(principal, body.who),
            source=body.source,
            check=check,
        )
        predicted = snapshot.axes[label.axis].top_label if label.axis in snapshot.axes else ""
        return LabelResult(label=label, created=created, predicted=predicted)

    result = await _off_loop(record)
    response.status_code = 201 if result.created else 200
    return result


@router.get(
    "/labels/export",
    responses={**_ERRORS, 200: {"content": {"application/x-ndjson": {}}}},
)
async def labels_export(
    store: Stored,
    principal: Identified,
    rubric: Annotated[Ref | None, Query()] = None,
    axis: Annotated[Ref | None, Query()] = None,
    since: Annotated[datetime | None, Query()] = None,
) -> Response:
    """JSON lines, one per (ticket, axis) with its newest label: ``text`` and ``label`` are
    what ``rubric eval`` reads; ``predicted`` and ``shadow`` say what the models said."""
    principal.require("export")
    if rubric is None and principal.restricted:
        raise InvalidRequestError("this API key is restricted to some rubric sets: name one")
    if rubric is not None:
        principal.check_rubric(rubric)
    rows = await _off_loop(lambda: store.export(rubric=rubric, axis=axis, since=since))
    body = "".join(row.model_dump_json() + "\n" for row in rows)
    return Response(body, media_type="application/x-ndjson")

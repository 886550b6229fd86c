"""What the store holds and hands out, as pydantic models: the rows' public shapes.

Every text here is the **redacted** text the scorer saw; the raw ticket never reaches the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas import Decision

LabelSource = Literal["review", "feedback", "helpdesk"]
ItemState = Literal["open", "labelled", "skipped"]
ModelStage = Literal["trained", "shadow", "promoted", "retired"]
# how a claim chose an item: the queue's order (smallest margin first) or at random (an audit
# pick: the unbiased sample that evidence for a head is computed on)
Picked = Literal["margin", "random"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AxisSnapshot(_Frozen):
    """What the live scorer said on one axis."""

    top_label: str
    scores: dict[str, float]
    confidence: float
    margin: float
    decision: Decision
    none_fits: bool = False


class Snapshot(_Frozen):
    """The prediction a ticket got, as it was answered: enough to say later what the model
    said beside what the human said. No text and no caller metadata (it may hold PII)."""

    rubric: str
    fingerprint: str
    axis: str = Field(description="the primary axis")
    axes: dict[str, AxisSnapshot] = Field(description="every axis answered, the primary included")
    decision: Decision
    reason: str
    prompt: str | None = None
    model: str
    scorer: str
    calibration: str | None = None
    fallback: bool = False
    request_id: str | None = None
    at: datetime

    @property
    def primary(self) -> AxisSnapshot:
        return self.axes[self.axis]


class ShadowPrediction(_Frozen):
    """A trained head's answer beside the live one; it never changed the response."""

    model_id: str = Field(description="head/<rubric>.<axis>@v<version>")
    axis: str
    top_label: str
    confidence: float
    margin: float
    scores: dict[str, float]


class Observation(_Frozen):
    """One classified ticket as the store keeps it; ``text`` only where the decision is one the
    store keeps text for (``GATEWAY_STORE_TEXT_FOR``)."""

    snapshot: Snapshot
    text: str | None = None
    external_id: str | None = None
    shadow: list[ShadowPrediction] = Field(default_factory=list)
    queued: bool = Field(
        True, description="enters the review queue (needs text; GATEWAY_REVIEW_QUEUE_FOR)"
    )


class QueueItem(_Frozen):
    """A review-queue entry as a reviewer sees it."""

    id: int
    text: str
    external_id: str | None
    snapshot: Snapshot
    shadow: list[ShadowPrediction]
    priority: float = Field(description="the margin the queue orders by (smaller first)")
    picked: Picked | None = Field(None, description="how the newest claim chose it")
    lease_owner: str | None = None
    lease_until: datetime | None = None


class LabelRecord(_Frozen):
    """One human correction (or confirmation) of one axis of one item."""

    id: int
    item_id: int
    axis: str
    label: str
    who: str
    source: LabelSource
    at: datetime


class LabelledExample(_Frozen):
    """A label with the text it labels and what the model said: one line of ``labels export``
    (the eval harness reads ``text`` and ``label``)."""

    id: str = Field(description="item-<item id>")
    text: str | None
    label: str
    rubric: str
    fingerprint: str
    axis: str
    predicted: str = Field(description="the live scorer's top label on this axis")
    confidence: float
    scorer: str
    model: str
    shadow: list[ShadowPrediction] = Field(default_factory=list)
    source: LabelSource
    picked: Picked | None = Field(
        None, description="how the review queue chose the ticket ('random': an audit pick)"
    )
    who: str
    labelled_at: datetime
    classified_at: datetime
    external_id: str | None = None
    request_id: str | None = None


class DriftPoint(_Frozen):
    """One classified ticket on one axis, as drift reads it: no text."""

    at: datetime
    top_label: str
    confidence: float
    none_fits: bool
    fingerprint: str
    label: str | None = Field(None, description="the newest human label, if any")


class ModelRecord(_Frozen):
    """A trained head in the registry: where its artefact is and what stage it is in."""

    id: str = Field(description="head/<rubric>.<axis>@v<version>")
    rubric: str
    axis: str
    version: int
    fingerprint: str = Field(description="the rubric fingerprint it was trained for")
    encoder_sha256: str
    path: str = Field(description="artefact directory")
    stage: ModelStage
    trained_at: datetime
    staged_at: datetime | None = Field(None, description="when it last changed stage")
    labels_used: int
    cv_macro_f1: float
    cv_accuracy: float


JobState = Literal["queued", "running", "done", "failed"]
# what a job's payload and result hold: ids, labels, scores; never ticket text
JobValue = str | int | float | bool | list[str] | None
JobData = dict[str, JobValue]


class NewJob(_Frozen):
    """A job to queue: what to do for which ticket, never the ticket's text."""

    key: str = Field(description="idempotency key: the same key again is the same job")
    kind: str
    helpdesk: str
    connection: str
    ticket_id: str
    payload: JobData = Field(default_factory=dict)


class JobRecord(_Frozen):
    """A job as the queue holds it."""

    id: int
    key: str
    kind: str
    helpdesk: str
    connection: str
    ticket_id: str
    payload: JobData
    state: JobState
    attempts: int
    run_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    error: str | None = Field(None, description="the last failure's code and message")
    result: JobData | None = None
    created_at: datetime
    updated_at: datetime

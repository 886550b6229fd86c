"""Wire models of the HTTP API (DESIGN.md §3).

The response is a superset of ScaleDown's ``{top_label, scores}`` so their clients work unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gateway.rubrics import Label

Decision = Literal["auto_route", "review", "manual", "escalate"]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length limits are checked by the classifier, not here, so that the error names the limit
    # and the batch endpoint can report them per ticket.
    text: str
    rubric: str | None = Field(None, description="a rubric set by name (default: the server's)")
    labels: list[Label] | None = Field(None, description="inline labels (ScaleDown form)")
    axes: list[str] | None = Field(None, description="which axes of the set to answer; default all")
    prompt: str | None = Field(None, description="prompt override, e.g. classify.v2")
    model: str | None = Field(None, description="model override, e.g. openai/gpt-4o-mini")
    redact: bool | None = Field(
        None, description="false skips redaction where the deployment allows"
    )
    metadata: dict[str, str] = Field(default_factory=dict)


class Flag(BaseModel):
    rule: str
    action: Literal["escalate", "review", "flag"]
    forced: dict[str, str] = Field(default_factory=dict)


class AxisResult(BaseModel):
    top_label: str
    scores: dict[str, float]
    raw: dict[str, float]
    confidence: float
    margin: float
    entropy: float
    decision: Decision
    reason: str
    labels: list[str]
    none_fits: bool = False
    multi_fit: bool = False
    forced_by: str | None = None


class RubricRef(BaseModel):
    name: str
    fingerprint: str


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class ClassifyResponse(BaseModel):
    axis: str = Field(description="the primary axis, whose result is at the top level")
    top_label: str
    scores: dict[str, float]
    raw: dict[str, float]
    confidence: float
    margin: float
    entropy: float
    decision: Decision
    reason: str
    labels: list[str]
    none_fits: bool = False
    multi_fit: bool = False
    route: str | None = None
    axes: dict[str, AxisResult] = Field(default_factory=dict)
    flags: list[Flag] = Field(default_factory=list)
    redactions: dict[str, int] = Field(default_factory=dict)
    redacted: bool = True
    rubric: RubricRef
    prompt: str | None = None
    model: str
    scorer: str
    calibration: str | None = Field(
        None, description="id of the calibration applied to the primary axis (rubric calibrate)"
    )
    usage: Usage | None = None
    fallback: bool = Field(
        False, description="the provider was unavailable and the embedded model answered"
    )
    cached: bool = False
    latency_ms: float
    metadata: dict[str, str] = Field(default_factory=dict)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one, so one malformed ticket is one error entry, not a 422.
    items: list[JsonValue] = Field(description="ClassifyRequest objects")


class BatchItem(BaseModel):
    index: int
    result: ClassifyResponse | None = None
    error: ErrorDetail | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem]
    ok: int
    failed: int
    latency_ms: float


class Health(BaseModel):
    status: Literal["ready", "starting", "failed"]
    scorer: str
    model: str
    rubrics: int
    rubric_errors: int
    startup_error: str | None = Field(
        None, description="why start-up failed (status 'failed'); fix the settings and restart"
    )


class RubricList(BaseModel):
    rubrics: list[RubricListItem]
    errors: dict[str, list[str]]


class RubricListItem(BaseModel):
    name: str
    fingerprint: str
    axes: dict[str, list[str]]
    rules: list[str]


RubricList.model_rebuild()

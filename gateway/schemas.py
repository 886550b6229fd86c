"""Wire models of the HTTP API (DESIGN.md §3).

The response is a superset of ScaleDown's ``{top_label, scores}`` so their clients work unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gateway.config import StructuredMode
from gateway.rubrics import Label

Decision = Literal["auto_route", "review", "manual", "escalate"]
# How a structured answer was asked for (gateway.providers.structured): the provider's native
# JSON schema, or JSON mode validated by the gateway.
StructuredOutput = StructuredMode
# names of things the server has (rubric sets, axes, prompts, models): short by nature
Ref = Annotated[str, StringConstraints(max_length=200)]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: object, path: str) -> str | None:
    """Where a JSON string holds a lone surrogate (``"\\ud800"``: valid JSON, not valid
    Unicode; nothing downstream can encode it), or None."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _SURROGATE.search(key):
                return f"{path}.<key>"
            found = _lone_surrogate(item, f"{path}.{key}")
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length limits are checked by the classifier, not here, so that the error names the limit
    # and the batch endpoint can report them per ticket.
    text: str
    rubric: Ref | None = Field(None, description="a rubric set by name (default: the server's)")
    labels: list[Label] | None = Field(None, description="inline labels (ScaleDown form)")
    axes: list[Ref] | None = Field(
        None, max_length=64, description="which axes of the set to answer; default all"
    )
    prompt: Ref | None = Field(None, description="prompt override, e.g. classify.v2")
    model: Ref | None = Field(None, description="model override, e.g. openai/gpt-4o-mini")
    redact: bool | None = Field(
        None, description="false skips redaction where the deployment allows"
    )
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: object) -> object:
        where = _lone_surrogate(data, "body")
        if where is not None:
            raise PydanticCustomError(
                "invalid_unicode",
                "{where}: holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text",
                {"where": where.removeprefix("body.")},
            )
        return data


class Flag(BaseModel):
    rule: str
    action: Literal["escalate", "review", "flag"]
    forced: dict[str, str] = Field(default_factory=dict)
    raised: dict[str, str] = Field(
        default_factory=dict,
        description="axes of `forced` this rule raised (raise_to): the answer was below the label",
    )
    route: str | None = Field(None, description="the route the rule sets for the ticket")
    span: tuple[int, int] | None = Field(
        None, description="[start, end) of the text match in the redacted text; never the text"
    )
    matched_on: list[str] = Field(
        default_factory=list,
        description="the conditions that held (text, metadata.<key>, axis.<axis>); no values",
    )


class Evidence(BaseModel):
    """Why an axis answered what it did, for the agent who sees the route. Never ticket text:
    the embedded model names the rubric's own text that matched best, an LLM gives its
    rationale (redacted), a rule its name and the matched span's position, a trained head
    (a signal such as sentiment) its id."""

    source: Literal["embedding", "llm", "rule", "head"]
    label: str = Field(description="the label it supports")
    matched: str | None = Field(
        None, description="embedding: the label's own text (topic, name or example) that matched"
    )
    matched_kind: Literal["topic", "name", "example"] | None = None
    similarity: float | None = Field(None, description="embedding: its cosine to the ticket")
    window: int | None = Field(
        None, description="embedding, a long ticket: the window that matched (0: the first)"
    )
    rationale: str | None = Field(
        None,
        description="llm: the model's one-sentence rationale, redacted like the ticket, at most "
        "300 characters",
    )
    rule: str | None = Field(None, description="rule: the rule that decided the axis")
    head: str | None = Field(None, description="head: the trained head that answered (its id)")
    span: tuple[int, int] | None = Field(
        None, description="rule: [start, end) of its match in the redacted text; never the text"
    )


class Within(BaseModel):
    """A child axis' place in the tree: answered among the children of its parent's label."""

    axis: str = Field(description="the parent axis")
    label: str = Field(description="the label the parent axis chose")
    unsure: bool = Field(description="the parent was not auto-routed: the child is not either")


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
    fallback: bool = Field(
        False, description="the embedded model answered this axis during a provider outage"
    )
    evidence: Evidence | None = Field(
        None, description="why: the rule that forced the axis, or what the embedded model matched"
    )
    within: Within | None = Field(
        None, description="a child axis: the parent label it was answered within"
    )


class DetectedLanguage(BaseModel):
    """The ticket's language, detected offline (``gateway.language``)."""

    code: str = Field(description="ISO 639-1 code (639-3 where a language has none), e.g. de")
    confidence: float = Field(ge=0, le=1, description="the detector's probability for it")


class RubricRef(BaseModel):
    name: str
    fingerprint: str


class Reading(BaseModel):
    """How much of a long ticket the embedded model read (absent: it read the whole ticket in
    one window)."""

    windows: int = Field(description="the ticket's windows (GATEWAY_LOCAL_WINDOW_TOKENS each)")
    read: int = Field(description="windows scored (GATEWAY_LOCAL_MAX_WINDOWS at most)")
    cut: bool = Field(description="some windows were not read (read < windows)")


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
    evidence: Evidence | None = Field(None, description="why the primary axis answered so")
    axes: dict[str, AxisResult] = Field(default_factory=dict)
    flags: list[Flag] = Field(default_factory=list)
    redactions: dict[str, int] = Field(default_factory=dict)
    redacted: bool = True
    language: DetectedLanguage | None = Field(
        None, description="the ticket's language; null: not detected (no letters, or detection off)"
    )
    rubric: RubricRef
    prompt: str | None = None
    model: str
    scorer: str
    calibration: str | None = Field(
        None, description="id of the calibration applied to the primary axis (rubric calibrate)"
    )
    usage: Usage | None = None
    reading: Reading | None = Field(
        None,
        description="a ticket longer than the embedded model's 256 tokens: its windows and how "
        "many were read; absent: read whole",
    )
    structured_output: StructuredOutput | None = Field(
        None,
        description="how the model's structured answer was asked for: json_schema (the "
        "provider's native schema) or json (JSON mode, validated here); null: no LLM answered",
    )
    fallback: bool = Field(
        False,
        description="the provider was unavailable and the embedded model answered: every axis "
        "is marked so and none is auto-routed",
    )
    local_weight: float | None = Field(
        None,
        description="the share of the embedded model's distribution mixed into the LLM's "
        "(GATEWAY_LLM_LOCAL_WEIGHT); null: not mixed",
    )
    cached: bool = False
    latency_ms: float
    metadata: dict[str, str] = Field(default_factory=dict)
    # The redacted text the scores were computed on, for the labelled-data store; never part of
    # the wire response (a private attribute is not serialised).
    _redacted_text: str | None = PrivateAttr(None)

    @property
    def redacted_text(self) -> str | None:
        return self._redacted_text

    def with_redacted_text(self, text: str) -> ClassifyResponse:
        self._redacted_text = text
        return self


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


class ProviderStatus(BaseModel):
    """What the gateway last heard from the model provider (``gateway.providers.health``)."""

    model_config = ConfigDict(frozen=True)

    reachable: bool | None = Field(
        None,
        description="whether the provider answered at the last contact (a call or a probe); "
        "null: not contacted yet",
    )
    last_seen_at: datetime | None = Field(None, description="when it last answered (UTC)")
    checked_at: datetime | None = Field(None, description="when it was last contacted (UTC)")
    error: str | None = Field(
        None, description="why the last contact failed: an error class or an HTTP status"
    )


class RedisStatus(BaseModel):
    """The replicas' shared state (``GATEWAY_REDIS_URL``), as this process last saw it."""

    model_config = ConfigDict(frozen=True)

    up: bool = Field(
        description="whether Redis answered at the last contact; false: this replica serves "
        "from its own cache with a per-process rate limit until a check answers again"
    )
    checked_at: datetime | None = Field(None, description="the last check (UTC)")
    since: datetime | None = Field(None, description="when it last went up or down (UTC)")
    error: str | None = Field(None, description="why the last contact failed: an error class")


HealthStatus = Literal["ready", "degraded", "starting", "failed"]


class Health(BaseModel):
    status: HealthStatus = Field(
        description="degraded: serving, but the model provider was unreachable at the last "
        "contact (tickets get 503 provider_unavailable, or the local fallback's answer), or "
        "Redis was (answers from this replica's own cache, limits per process)"
    )
    scorer: str
    model: str
    rubrics: int
    rubric_errors: int
    startup_error: str | None = Field(
        None, description="why start-up failed (status 'failed'); fix the settings and restart"
    )
    provider: ProviderStatus | None = Field(
        None, description="the model provider, for scorers that call one"
    )
    redis: RedisStatus | None = Field(
        None, description="the shared cache and limits, when GATEWAY_REDIS_URL is set"
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


class LabelBody(BaseModel):
    """``POST /review/{id}/label``: confirm (the predicted label) or correct."""

    model_config = ConfigDict(extra="forbid")

    label: Ref
    axis: Ref | None = Field(None, description="default: the item's primary axis")
    reviewer: Ref | None = Field(None, description="the person, recorded beside the key id")


class SkipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: Ref | None = None


class FeedbackBody(BaseModel):
    """``POST /feedback``: a correction for any classified ticket, from any tool."""

    model_config = ConfigDict(extra="forbid")

    request_id: Ref | None = Field(None, description="the X-Request-ID /classify answered with")
    external_id: Ref | None = Field(None, description="the ticket id sent in metadata")
    rubric: Ref | None = Field(None, description="narrows an external id to one rubric set")
    axis: Ref | None = Field(None, description="default: the ticket's primary axis")
    label: Ref
    who: Ref | None = Field(None, description="the person or tool, recorded beside the key id")
    source: Literal["feedback", "helpdesk"] = "feedback"

    @model_validator(mode="after")
    def _one_id(self) -> FeedbackBody:
        if (self.request_id is None) == (self.external_id is None):
            raise ValueError("give exactly one of request_id and external_id")
        return self

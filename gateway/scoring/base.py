"""The Scorer seam: every way of turning a ticket into per-label probabilities."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from gateway.errors import GatewayError
from gateway.rubrics import RubricSet, Thresholds
from gateway.schemas import Evidence, Reading, StructuredOutput, Usage

if TYPE_CHECKING:
    from gateway.providers import Prompt

# ScoreResult.scorer when a provider outage was answered by the embedded model (see cascade.py).
LOCAL_FALLBACK = "local-fallback"


class AxisScores(BaseModel):
    """One axis as a scorer sees it.

    ``raw``: each label's own yes-probability (need not sum to 1);
    ``scores``: the distribution over the axis' labels (sums to 1).
    """

    raw: dict[str, float]
    scores: dict[str, float]
    evidence: Evidence | None = Field(None, description="what supports the top label, if known")


class ScoreResult(BaseModel):
    axes: dict[str, AxisScores]
    scorer: str = Field(description="the scorer that decided (cascade reports local or llm)")
    model: str
    prompt: str | None = None
    usage: Usage | None = None
    reading: Reading | None = Field(
        None, description="a long ticket's windows and how many the embedded model read"
    )
    structured_output: StructuredOutput | None = Field(
        None, description="how an LLM's structured answer was asked for (json_schema or json)"
    )
    fallback: bool = Field(
        False,
        description="the embedded model answered because the provider was unavailable: never "
        "auto-routed, never cached",
    )
    local_weight: float | None = Field(
        None,
        description="the share of the embedded model's distribution mixed into an LLM's "
        "(scoring.blend); None: not mixed",
    )
    thresholds: dict[str, Thresholds] = Field(
        default_factory=dict,
        description="per axis, thresholds of the scorer's own that replace the rubric's (a "
        "trained head's, fitted on its cross-validated predictions)",
    )
    # How this answer reached the caller; a fact about one delivery, so never stored.
    origin: Literal["scored", "cache", "joined"] = Field("scored", exclude=True)


def config_fingerprint(config: Mapping[str, object]) -> str:
    """A scorer's ``fingerprint``: a short hash of the configuration that changes its output."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# One ticket's outcome: its scores, or the error that ticket alone met (a provider error after
# retries and fallbacks). A value, not a raise, so that one ticket cannot fail a whole batch.
ScoreOutcome = ScoreResult | GatewayError


@runtime_checkable
class Scorer(Protocol):
    """Scores redacted text against the axes of a rubric set.

    Implementations are built once at start-up and shared by all requests; ``score_many``
    exists so that local models can batch and remote ones can run calls concurrently.
    """

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def prompt(self) -> str | None:
        """Prompt id and content hash (``classify.v2@1a2b3c4d``); None for prompt-free scorers."""
        ...

    @property
    def fingerprint(self) -> str:
        """Hash of everything else in this scorer's configuration that changes its output
        (temperatures, parameters, fallback chain); part of the result-cache key."""
        ...

    @property
    def batches(self) -> bool:
        """True when many tickets in one call cost far less than one call each (the embedded
        model): concurrent requests are then micro-batched (``pipeline.batching``). False for
        scorers that wait on a network: a batch would queue tickets behind its slowest answer."""
        ...

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> Sequence[ScoreOutcome]:
        """One outcome per text, in order. A ``GatewayError`` in a slot is that ticket's own
        failure; the call raises only when it fails as a whole (the embedded model, a bug,
        cancellation). Batch-native scorers that fail as a whole return ``list[ScoreResult]``."""
        ...


@runtime_checkable
class Checkable(Protocol):
    """A scorer with a start-up check (see ``factory.check_scorer``)."""

    async def check(self) -> None: ...


@runtime_checkable
class Overridable(Protocol):
    """A scorer that can serve a request's ``model``/``prompt`` override as a variant of itself,
    sharing its provider client and concurrency bound (see ``scoring.variants``)."""

    def variant(self, *, model: str | None = None, prompt: Prompt | None = None) -> Scorer:
        """Raises ``InvalidRequestError`` when the override does not fit this scorer."""
        ...


class Wrapper:
    """Base of scorers that add a service around another (the result cache, timing) and
    answer as that scorer: same name, model, prompt, fingerprint and batching."""

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def prompt(self) -> str | None:
        return self.inner.prompt

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    @property
    def batches(self) -> bool:
        return self.inner.batches

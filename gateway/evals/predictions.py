"""What one run of the matrix produced: a ``Prediction`` per ticket (without its text), and the
``predictions-<run>.jsonl`` files (every score, raw and normalised) a later ``--baseline``
pairs tickets with."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, Field

from gateway.errors import GatewayError
from gateway.evals.suite import RunSpec, Ticket
from gateway.schemas import AxisResult, ClassifyResponse, Flag


class Prediction(BaseModel):
    """One ticket's outcome, without its text (reports may be shared; tickets may not)."""

    id: str
    gold: list[str]
    in_scope: bool
    top_label: str | None = None
    labels: list[str] = Field(default_factory=list)
    confidence: float = 0.0
    margin: float = 0.0
    max_raw: float = 0.0
    # the none_fits signal a calibration scored it with (Calibration.fit_score); None: max_raw
    fit_score: float | None = None
    decision: str = "manual"
    none_fits: bool = False
    multi_fit: bool = False
    scores: dict[str, float] = Field(default_factory=dict)
    raw: dict[str, float] = Field(default_factory=dict)
    # what an offline re-decision needs to decide as the server did (rules, provider outage)
    flags: list[Flag] = Field(default_factory=list)
    fallback: bool = False
    latency_ms: float = Field(0.0, description="of the classify call the ticket came in")
    batch_size: int = Field(1, ge=1, description="tickets in that call")
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calibration: str | None = None
    error: str | None = None

    @property
    def none_fits_signal(self) -> float:
        """What none_fits is decided on: the calibration's fit score, else the best raw score."""
        return self.fit_score if self.fit_score is not None else self.max_raw

    @property
    def correct(self) -> bool:
        return self.in_scope and self.top_label is not None and self.top_label in self.gold


class RunResult(BaseModel):
    run: RunSpec
    scorer: str | None = None
    model: str | None = None
    prompt: str | None = Field(None, description="as the responses name it (None: no prompt)")
    local_weight: float | None = Field(
        None, description="the embedded model's share mixed into the answers (None: unmixed)"
    )
    answered_by: list[str] = Field(
        default_factory=list,
        description="each distinct scorer that answered (a cascade's: local and llm), as "
        "'scorer model prompt local_weight'",
    )
    predictions: list[Prediction]
    wall_s: float
    error_messages: dict[str, str] = Field(
        default_factory=dict, description="error code -> its first message (no ticket text)"
    )


def prediction_of(
    ticket: Ticket,
    outcome: ClassifyResponse | GatewayError,
    batch_size: int = 1,
    axis: str | None = None,
) -> Prediction:
    """One ticket's prediction on ``axis`` (default: the response's primary axis; a child
    axis comes back beside the parent it is answered within, in ``axes``)."""
    base = Prediction(
        id=ticket.id, gold=list(ticket.gold), in_scope=ticket.in_scope, batch_size=batch_size
    )
    if isinstance(outcome, GatewayError):
        return base.model_copy(update={"error": outcome.code})
    usage = outcome.usage
    if axis is not None and axis != outcome.axis and axis not in outcome.axes:
        # a child axis left out (its parent's label has no children): no answer, a human's
        return base.model_copy(
            update={
                "decision": "manual",
                "latency_ms": outcome.latency_ms,
                "cached": outcome.cached,
            }
        )
    answer: ClassifyResponse | AxisResult = (
        outcome if axis is None or axis == outcome.axis else outcome.axes[axis]
    )
    return base.model_copy(
        update={
            "top_label": answer.top_label,
            "labels": list(answer.labels),
            "confidence": answer.confidence,
            "margin": answer.margin,
            "max_raw": max(answer.raw.values(), default=0.0),
            # the ticket's decision for its primary axis; an axis' own otherwise
            "decision": answer.decision,
            "none_fits": answer.none_fits,
            "multi_fit": answer.multi_fit,
            "scores": dict(answer.scores),
            "raw": dict(answer.raw),
            "flags": list(outcome.flags),
            "fallback": outcome.fallback,
            "latency_ms": outcome.latency_ms,
            "cached": outcome.cached,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "cost_usd": usage.cost_usd if usage else 0.0,
            "calibration": outcome.calibration,
        }
    )


def predictions_file(report_dir: Path, run: RunSpec) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._+@~-]+", "_", run.key)
    return report_dir / f"predictions-{safe}.jsonl"


def write_predictions(report_dir: Path, result: RunResult) -> Path:
    """Per-ticket outcomes without text, each with its full distribution (``scores``, every
    label) and raw per-label scores: what --baseline pairs tickets with, and enough to recompute
    NLL or Brier, or to refit a calibration, from the report alone."""
    path = predictions_file(report_dir, result.run)
    with path.open("w", encoding="utf-8") as fh:
        for p in result.predictions:
            fh.write(p.model_dump_json() + "\n")
    return path


def read_predictions(report_dir: Path, run: RunSpec) -> RunResult | None:
    path = predictions_file(report_dir, run)
    if not path.is_file():
        return None
    preds = [
        Prediction.model_validate(json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return RunResult(run=run, predictions=preds, wall_s=0.0)

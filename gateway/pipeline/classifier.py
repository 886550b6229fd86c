"""The pipeline of DESIGN.md §1, and nothing else: every stage is injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, SkipValidation

from gateway.config import Settings
from gateway.errors import (
    ForbiddenError,
    GatewayError,
    InvalidRequestError,
    LabelsInvalidError,
    TextEmptyError,
    TextTooLongError,
)
from gateway.pipeline.batching import MicroBatcher
from gateway.pipeline.calibration import CalibrationStore
from gateway.pipeline.decision import decide_axis, decide_ticket
from gateway.pipeline.observer import NullPipelineObserver, PipelineObserver
from gateway.pipeline.rules import apply_rules
from gateway.redaction import PassThroughRedactor, RedactedText, Redactor
from gateway.rubrics import RedactionOverrides, RubricSet, RubricStore, Thresholds
from gateway.schemas import AxisResult, ClassifyRequest, ClassifyResponse, Flag, RubricRef
from gateway.scoring import AxisScores, ScoreOutcome, Scorer, ScoreResult, ScorerVariants
from gateway.slots import Slots


class _Prepared(BaseModel):
    """A request after validation, redaction and rules: nothing raw remains in it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    rubric: RubricSet
    axes: tuple[str, ...]
    scorer: SkipValidation[Scorer]  # the served scorer, or the request's override variant
    redacted: RedactedText
    was_redacted: bool
    flags: list[Flag]
    metadata: dict[str, str]


class Classifier:
    """Validate, redact, apply rules, score, decide. ``variants`` serves the start-up scorer
    and the requests' overrides, each already wrapped in what serves it (the result cache);
    ``on_close`` releases what the builder opened for it."""

    def __init__(
        self,
        settings: Settings,
        rubrics: RubricStore,
        redactor: Redactor,
        variants: ScorerVariants,
        *,
        observer: PipelineObserver | None = None,
        on_close: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.settings = settings
        self.rubrics = rubrics
        self.redactor = redactor
        self.variants = variants
        self.observer = observer or NullPipelineObserver()
        self.floors = settings.floors
        self.calibrations = CalibrationStore()
        self._passthrough = PassThroughRedactor()
        self._on_close = tuple(on_close)
        # Concurrent requests share a batch on a batch-native scorer (the embedded model); a
        # scorer that waits on the network would queue tickets behind a batch's slowest answer.
        self._batcher = (
            MicroBatcher(self.classify_many, settings.local.micro_batch)
            if variants.base.batches and settings.local.micro_batch > 1
            else None
        )

    @property
    def scorer(self) -> Scorer:
        """The served scorer; requests with overrides get variants of it (``self.variants``)."""
        return self.variants.base

    def close(self) -> None:
        for close in self._on_close:
            close()

    # ------------------------------------------------------------------ stages

    def rubric_name(self, req: ClassifyRequest) -> str:
        """The rubric set a request is classified against: its own, the default, or
        ``inline`` for inline labels (what a key restricted to some sets is checked against)."""
        if req.labels is not None:
            return RubricSet.INLINE
        return req.rubric or self.settings.rubrics.default

    def _rubric_for(self, req: ClassifyRequest) -> RubricSet:
        limits = self.settings.limits
        if req.labels is not None:
            if req.rubric is not None:
                raise InvalidRequestError("give either 'rubric' or inline 'labels', not both")
            if len(req.labels) > limits.max_inline_labels:
                raise LabelsInvalidError(
                    f"{len(req.labels)} inline labels; at most {limits.max_inline_labels}"
                )
            for i, label in enumerate(req.labels):
                if len(label.rubric) > limits.max_label_chars:
                    raise LabelsInvalidError(
                        f"labels[{i}].rubric is longer than {limits.max_label_chars} chars"
                    )
            return RubricSet.inline(req.labels)
        return self.rubrics.get(self.rubric_name(req))

    def _check_text(self, text: str) -> None:
        if not text.strip():
            raise TextEmptyError("text is empty")
        limit = self.settings.limits.max_text_chars
        if len(text) > limit:
            raise TextTooLongError(f"text has {len(text)} characters; the limit is {limit}")

    def _redactor_for(self, req: ClassifyRequest) -> Redactor:
        if req.redact is False:
            if not self.settings.redaction.allow_unredacted:
                raise ForbiddenError("this deployment does not allow redact=false")
            return self._passthrough
        return self.redactor if self.settings.redaction.enabled else self._passthrough

    def _validate(
        self, req: ClassifyRequest
    ) -> tuple[RubricSet, tuple[str, ...], Redactor, Scorer]:
        self._check_text(req.text)
        scorer = self.variants.for_request(req.model, req.prompt)
        rubric = self._rubric_for(req)
        axes = tuple(rubric.select_axes(req.axes))
        return rubric, axes, self._redactor_for(req), scorer

    def _finish(
        self,
        req: ClassifyRequest,
        rubric: RubricSet,
        axes: tuple[str, ...],
        redactor: Redactor,
        scorer: Scorer,
        redacted: RedactedText,
    ) -> _Prepared:
        """Rules, on redacted text only."""
        flags = apply_rules(rubric, redacted.text, list(axes))
        return _Prepared(
            rubric=rubric,
            axes=axes,
            scorer=scorer,
            redacted=redacted,
            was_redacted=redactor is not self._passthrough,
            flags=flags,
            metadata=req.metadata,
        )

    def _prepare_all(self, reqs: Sequence[ClassifyRequest]) -> list[_Prepared | GatewayError]:
        """Validate, redact and apply rules. Runs in a worker thread (Presidio is CPU-bound);
        tickets sharing a redactor and rubric overrides are redacted as one batch."""
        out: Slots[_Prepared | GatewayError] = Slots(len(reqs))
        valid: dict[int, tuple[RubricSet, tuple[str, ...], Redactor, Scorer]] = {}
        for i, req in enumerate(reqs):
            try:
                valid[i] = self._validate(req)
            except GatewayError as exc:
                out[i] = exc
        groups: dict[tuple[int, RedactionOverrides], list[int]] = {}
        for i, (rubric, _, redactor, _) in valid.items():
            key = (id(redactor), rubric.redaction)  # frozen, so hashable
            groups.setdefault(key, []).append(i)
        for indices in groups.values():
            rubric, _, redactor, _ = valid[indices[0]]
            try:
                with self.observer.stage("redact"):
                    redacted = redactor.redact_batch(
                        [reqs[i].text for i in indices], rubric.redaction
                    )
            except GatewayError as exc:
                out.fill(indices, exc)
                continue
            for i, text in zip(indices, redacted, strict=True):
                try:
                    out[i] = self._finish(reqs[i], *valid[i], text)
                except GatewayError as exc:
                    out[i] = exc
        return out.filled()

    async def _score_group(self, items: list[_Prepared]) -> list[ScoreOutcome]:
        """Score items that share a rubric, axes and scorer in one scorer call. A ticket the
        scorer failed on is that ticket's error, not the group's."""
        first = items[0]
        scored = await first.scorer.score_many(
            [item.redacted.text for item in items], first.rubric, first.axes
        )
        for outcome in scored:
            if isinstance(outcome, ScoreResult) and outcome.origin == "scored":
                self.observer.scored(outcome.scorer)
        return list(scored)

    def _calibrated(
        self, rubric: RubricSet, axis: str, result: ScoreResult
    ) -> tuple[AxisScores, Thresholds, str | None]:
        """Apply a stored calibration (``rubric calibrate``) after the cache, so refitting
        takes effect without busting cached results."""
        scored = result.axes[axis]
        thresholds = rubric.thresholds_for(axis)
        path = self.rubrics.path_of(rubric.name)
        cal = (
            self.calibrations.find(
                path, rubric.fingerprint, result.scorer, result.model, result.prompt, axis
            )
            if path is not None
            else None
        )
        if cal is None:
            return scored, thresholds, None
        return (*cal.applied(scored, thresholds), cal.id)

    def _respond(self, item: _Prepared, result: ScoreResult, started: float) -> ClassifyResponse:
        rubric = item.rubric
        decided: dict[str, AxisResult] = {}
        calibration: dict[str, str] = {}
        for axis in item.axes:
            scored, thresholds, cal_id = self._calibrated(rubric, axis, result)
            decided[axis] = decide_axis(axis, scored, thresholds, self.floors, item.flags)
            if cal_id is not None:
                calibration[axis] = cal_id
        primary_name = rubric.primary_axis if rubric.primary_axis in decided else item.axes[0]
        primary = decided.pop(primary_name)
        decision, reason = decide_ticket(primary, item.flags, fallback=result.fallback)
        route = next(
            (lb.route for lb in rubric.axes[primary_name].labels if lb.name == primary.top_label),
            None,
        )
        return ClassifyResponse(
            axis=primary_name,
            top_label=primary.top_label,
            scores=primary.scores,
            raw=primary.raw,
            confidence=primary.confidence,
            margin=primary.margin,
            entropy=primary.entropy,
            decision=decision,
            reason=reason,
            labels=primary.labels,
            none_fits=primary.none_fits,
            multi_fit=primary.multi_fit,
            route=route,
            axes=decided,
            flags=item.flags,
            redactions=item.redacted.entities,
            redacted=item.was_redacted,
            rubric=RubricRef(name=rubric.name, fingerprint=rubric.fingerprint),
            prompt=result.prompt,
            model=result.model,
            scorer=result.scorer,
            calibration=calibration.get(primary_name),
            usage=result.usage,
            fallback=result.fallback,
            cached=result.origin == "cache",
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            metadata=item.metadata,
        )

    # ------------------------------------------------------------------ API

    async def classify(self, req: ClassifyRequest) -> ClassifyResponse:
        if self._batcher is not None:
            return await self._batcher.submit(req)
        (outcome,) = await self.classify_many([req])
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    async def classify_many(
        self, reqs: Sequence[ClassifyRequest]
    ) -> list[ClassifyResponse | GatewayError]:
        """Classify in order; a failing ticket is an error in its slot, not a failed batch."""
        started = time.perf_counter()
        prepared = await anyio.to_thread.run_sync(self._prepare_all, reqs)
        out: Slots[ClassifyResponse | GatewayError] = Slots(len(reqs))
        # one scorer call per (rubric, axes, scorer): override variants are scored apart
        groups: dict[tuple[str, tuple[str, ...], int], list[int]] = {}
        for i, p in enumerate(prepared):
            if isinstance(p, GatewayError):
                out[i] = p
            else:
                groups.setdefault((p.rubric.fingerprint, p.axes, id(p.scorer)), []).append(i)

        async def run(indices: list[int]) -> None:
            items = [p for p in (prepared[i] for i in indices) if isinstance(p, _Prepared)]
            try:
                scored = await self._score_group(items)
            except GatewayError as exc:
                out.fill(indices, exc)
                return
            for i, item, outcome in zip(indices, items, scored, strict=True):
                out[i] = (
                    outcome
                    if isinstance(outcome, GatewayError)
                    else self._respond(item, outcome, started)
                )

        await asyncio.gather(*(run(indices) for indices in groups.values()))
        return out.filled()

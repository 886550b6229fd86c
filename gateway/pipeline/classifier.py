"""The pipeline of DESIGN.md §1, and nothing else: every stage is injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, SkipValidation

from gateway.cache.disk import CacheKey, ResultCache
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
from gateway.pipeline.decision import decide_axis, overall
from gateway.pipeline.rules import apply_rules
from gateway.redaction.presidio import PassThroughRedactor, RedactedText, Redactor
from gateway.rubrics.model import RedactionOverrides, RubricSet, RubricStore, Thresholds
from gateway.schemas import AxisResult, ClassifyRequest, ClassifyResponse, Flag, RubricRef
from gateway.scoring.base import AxisScores, Scorer, ScoreResult
from gateway.scoring.distribution import top_label
from gateway.scoring.variants import ScorerVariants
from gateway.server.telemetry import SCORED_BY, SINGLE_FLIGHT, stage


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
    cache_key: str


class Classifier:
    def __init__(
        self,
        settings: Settings,
        rubrics: RubricStore,
        redactor: Redactor,
        scorer: Scorer,
        cache: ResultCache | None = None,
    ) -> None:
        self.settings = settings
        self.rubrics = rubrics
        self.redactor = redactor
        self.variants = ScorerVariants(scorer, settings)
        self.cache = cache
        self.floors = settings.floors
        self._passthrough = PassThroughRedactor()
        self.calibrations = CalibrationStore()
        self._batchers: tuple[asyncio.AbstractEventLoop, MicroBatcher] | None = None

    @property
    def scorer(self) -> Scorer:
        """The served scorer; requests with overrides get variants of it (``self.variants``)."""
        return self.variants.base

    @scorer.setter
    def scorer(self, scorer: Scorer) -> None:
        # a swapped scorer (tests, a rebuild) must not keep serving its predecessor's variants
        self.variants = ScorerVariants(scorer, self.settings)

    # ------------------------------------------------------------------ stages

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
        return self.rubrics.get(req.rubric or self.settings.rubrics.default)

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
        """Rules and cache key, on redacted text only."""
        flags = apply_rules(rubric, redacted.text, list(axes))
        # the request's own scorer: an override variant never shares entries with the base
        key = CacheKey(
            text=redacted.text,
            rubric=rubric.axis_fingerprint(axes),
            prompt=scorer.prompt,
            model=scorer.model,
            scorer=f"{scorer.name}:{scorer.fingerprint}",
        ).digest()
        return _Prepared(
            rubric=rubric,
            axes=axes,
            scorer=scorer,
            redacted=redacted,
            was_redacted=redactor is not self._passthrough,
            flags=flags,
            metadata=req.metadata,
            cache_key=key,
        )

    def _prepare_all(self, reqs: Sequence[ClassifyRequest]) -> list[_Prepared | GatewayError]:
        """Validate, redact and apply rules. Runs in a worker thread (Presidio is CPU-bound);
        tickets sharing a redactor and rubric overrides are redacted as one batch."""
        out: list[_Prepared | GatewayError | None] = [None] * len(reqs)
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
                with stage("redact"):
                    redacted = redactor.redact_batch(
                        [reqs[i].text for i in indices], rubric.redaction
                    )
            except GatewayError as exc:
                for i in indices:
                    out[i] = exc
                continue
            for i, text in zip(indices, redacted, strict=True):
                try:
                    out[i] = self._finish(reqs[i], *valid[i], text)
                except GatewayError as exc:
                    out[i] = exc
        return [o for o in out if o is not None]

    @staticmethod
    def _fresh(result: ScoreResult) -> tuple[ScoreResult, bool]:
        """A result just scored (not cached, not joined): counted by the scorer that decided,
        which gives the cascade's share of tickets the LLM had to answer."""
        SCORED_BY.labels(result.scorer).inc()
        return result, False

    async def _score_group(
        self, items: list[_Prepared]
    ) -> list[tuple[ScoreResult, bool] | GatewayError]:
        """Score items that share a rubric, axes and scorer: cache first, then single-flight
        (identical keys already being scored are awaited, not re-scored), one scorer call for
        the rest. A ticket the scorer failed on is that ticket's error, not the group's."""
        scorer = items[0].scorer
        results: list[tuple[ScoreResult, bool] | GatewayError | None] = [None] * len(items)
        todo: list[int] = []
        follow: list[tuple[int, asyncio.Future[ScoreResult]]] = []
        for i, item in enumerate(items):
            hit = self.cache.get(item.cache_key) if self.cache else None
            if hit is not None:
                results[i] = (hit, True)
                continue
            joined = self.cache.flight.join(item.cache_key) if self.cache else None
            if joined is not None:
                follow.append((i, joined))
                continue
            if self.cache:
                self.cache.flight.lead(item.cache_key)
            todo.append(i)
        if todo:
            first = items[todo[0]]
            try:
                with stage("score"):
                    scored = await scorer.score_many(
                        [items[i].redacted.text for i in todo], first.rubric, first.axes
                    )
            except BaseException as exc:
                if self.cache:
                    for i in todo:
                        self.cache.flight.fail(items[i].cache_key, exc)
                raise
            for i, result in zip(todo, scored, strict=True):
                if isinstance(result, GatewayError):
                    results[i] = result
                    if self.cache:
                        self.cache.flight.fail(items[i].cache_key, result)
                    continue
                results[i] = self._fresh(result)
                if self.cache:
                    # an outage answer from the local fallback must not outlive the outage
                    if not result.scorer.endswith("fallback"):
                        self.cache.set(items[i].cache_key, result)
                    self.cache.flight.resolve(items[i].cache_key, result)
        retry: list[int] = []
        for i, fut in follow:
            SINGLE_FLIGHT.inc()
            try:
                results[i] = (await asyncio.shield(fut), False)
            except asyncio.CancelledError:
                if not fut.cancelled():
                    raise  # this request itself was cancelled
                retry.append(i)  # the leader was cancelled: score this one directly
            except GatewayError as exc:
                results[i] = exc  # the same key failed for the leader: the same failure here
        if retry:
            with stage("score"):
                rescored = await scorer.score_many(
                    [items[i].redacted.text for i in retry], items[retry[0]].rubric, items[0].axes
                )
            for i, result in zip(retry, rescored, strict=True):
                results[i] = result if isinstance(result, GatewayError) else self._fresh(result)
        return [r for r in results if r is not None]

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
        scores = cal.apply(scored.scores)
        auto = cal.auto_route_threshold(top_label(scores), thresholds.auto_route)
        return (
            AxisScores(raw=scored.raw, scores=scores),
            Thresholds(auto_route=auto, review=min(thresholds.review, auto)),
            cal.id,
        )

    def _respond(
        self, item: _Prepared, result: ScoreResult, cached: bool, started: float
    ) -> ClassifyResponse:
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
        decision, reason = overall(primary, item.flags)
        if result.scorer.endswith("fallback") and decision == "auto_route":
            decision, reason = "review", f"provider unavailable, embedded model answered; {reason}"
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
            cached=cached,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            metadata=item.metadata,
        )

    # ------------------------------------------------------------------ API

    async def classify(self, req: ClassifyRequest) -> ClassifyResponse:
        batcher = self._batcher()
        if batcher is not None:
            return await batcher.submit(req)
        (outcome,) = await self.classify_many([req])
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    def _batcher(self) -> MicroBatcher | None:
        """Concurrent requests share a batch on the embedded model (``gateway.pipeline.batching``).
        Not for provider scorers: one batch at a time would queue tickets behind the slowest
        LLM answer of the batch before."""
        if self.settings.local.micro_batch <= 1 or self.settings.scorer_kind != "local":
            return None
        loop = asyncio.get_running_loop()
        if self._batchers is None or self._batchers[0] is not loop:
            self._batchers = (
                loop,
                MicroBatcher(self.classify_many, self.settings.local.micro_batch),
            )
        return self._batchers[1]

    async def classify_many(
        self, reqs: Sequence[ClassifyRequest]
    ) -> list[ClassifyResponse | GatewayError]:
        """Classify in order; a failing ticket is an error in its slot, not a failed batch."""
        started = time.perf_counter()
        prepared = await anyio.to_thread.run_sync(self._prepare_all, reqs)
        out: list[ClassifyResponse | GatewayError | None] = [
            p if isinstance(p, GatewayError) else None for p in prepared
        ]
        # one scorer call per (rubric, axes, scorer): override variants are scored apart
        groups: dict[tuple[str, tuple[str, ...], int], list[int]] = {}
        for i, p in enumerate(prepared):
            if isinstance(p, _Prepared):
                groups.setdefault((p.rubric.fingerprint, p.axes, id(p.scorer)), []).append(i)

        async def run(indices: list[int]) -> None:
            items = [prepared[i] for i in indices]
            ready = [p for p in items if isinstance(p, _Prepared)]
            try:
                scored = await self._score_group(ready)
            except GatewayError as exc:
                for i in indices:
                    out[i] = exc
                return
            for i, item, outcome in zip(indices, ready, scored, strict=True):
                out[i] = (
                    outcome
                    if isinstance(outcome, GatewayError)
                    else self._respond(item, *outcome, started)
                )

        await asyncio.gather(*(run(indices) for indices in groups.values()))
        return [o for o in out if o is not None]

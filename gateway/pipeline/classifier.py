"""The pipeline of DESIGN.md §1, and nothing else: every stage is injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, SkipValidation

from gateway.config import Floors, Settings
from gateway.errors import GatewayError
from gateway.language import LanguageDetector, NullDetector
from gateway.pipeline.batching import Lanes
from gateway.pipeline.calibration import (
    Calibration,
    CalibrationFinder,
    CalibrationKey,
    CalibrationStore,
)
from gateway.pipeline.decision import decide_axis, decide_ticket, ticket_route
from gateway.pipeline.heads import Heads
from gateway.pipeline.hierarchy import decide_tree
from gateway.pipeline.intake import Intake, Validated
from gateway.pipeline.language import (
    LanguageOutcome,
    language_outcome,
    other_language_reader,
    redactor_for,
)
from gateway.pipeline.observer import NullPipelineObserver, PipelineObserver
from gateway.pipeline.rules import apply_rules, settle_rules
from gateway.redaction import RedactedText, Redactor
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
    language: LanguageOutcome


class Classifier:
    """Validate, redact, apply rules, score, decide. ``variants`` serves the start-up scorer
    and the requests' overrides, each already wrapped in what serves it (the result cache);
    ``heads`` serves a rubric whose trained head is promoted with the head first;
    ``calibrations`` finds stored calibrations (default: the files beside the rubrics);
    ``on_close`` releases what the builder opened for it."""

    def __init__(
        self,
        settings: Settings,
        rubrics: RubricStore,
        redactor: Redactor,
        variants: ScorerVariants,
        *,
        observer: PipelineObserver | None = None,
        heads: Heads | None = None,
        calibrations: CalibrationFinder | None = None,
        language: LanguageDetector | None = None,
        on_close: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.settings = settings
        self.rubrics = rubrics
        self.intake = Intake(settings, store=rubrics, scorers=variants, redactor=redactor)
        self.variants = variants
        self.observer = observer or NullPipelineObserver()
        self.heads = heads
        self.floors = settings.floors
        self.calibrations = calibrations if calibrations is not None else CalibrationStore()
        self._on_close = tuple(on_close)
        self.language = language or NullDetector()
        self._reader, self._reads_natively = other_language_reader(variants)
        # Concurrent requests share a batch on a batch-native scorer (the embedded model); a
        # scorer that waits on the network would queue tickets behind a batch's slowest answer.
        self._batcher = (
            Lanes(
                self.classify_many,
                settings.local.micro_batch,
                settings.local.micro_batch_chars,
                settings.local.heavy_ticket_chars,
            )
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
        """The rubric set a request is classified against (``Intake.rubric_name``)."""
        return self.intake.rubric_name(req)

    def _prepare_all(self, reqs: Sequence[ClassifyRequest]) -> list[_Prepared | GatewayError]:
        """Intake, redaction and rules. Runs in a worker thread (Presidio is CPU-bound);
        tickets sharing a redactor and rubric overrides are redacted as one batch."""
        out: Slots[_Prepared | GatewayError] = Slots(len(reqs))
        valid: dict[int, Validated] = {}
        langs: dict[int, LanguageOutcome] = {}
        for i, req in enumerate(reqs):
            try:
                valid[i] = self.intake.validate(req)
            except GatewayError as exc:
                out[i] = exc
                continue
            langs[i] = self._language_of(valid[i], req.text)
        redactors = {i: redactor_for(v.redactor, langs[i]) for i, v in valid.items()}
        groups: dict[tuple[int, RedactionOverrides], list[int]] = {}
        for i, v in valid.items():
            groups.setdefault((id(redactors[i]), v.rubric.redaction), []).append(i)  # hashable
        for indices in groups.values():
            first = valid[indices[0]]
            try:
                with self.observer.stage("redact"):
                    redacted = redactors[indices[0]].redact_batch(
                        [reqs[i].text for i in indices], first.rubric.redaction
                    )
            except GatewayError as exc:
                out.fill(indices, exc)
                continue
            for i, text in zip(indices, redacted, strict=True):
                v = valid[i]
                out[i] = _Prepared(
                    rubric=v.rubric,
                    axes=v.axes,
                    scorer=self._served_by(v, langs[i]),
                    redacted=text,
                    was_redacted=v.redacted,
                    # redacted text only; rules on the answers wait for them (_respond)
                    flags=apply_rules(v.rubric, text.text, v.axes, reqs[i].metadata),
                    metadata=reqs[i].metadata,
                    language=langs[i],
                )
        return out.filled()

    def _language_of(self, v: Validated, text: str) -> LanguageOutcome:
        """Detected on the text as sent: placeholders would hide words that say the language."""
        native = self._reads_natively or v.scorer is not self.variants.base  # an override: an LLM
        reader = None if native else self._reader
        detected = self.language.detect(text)
        return language_outcome(v.rubric.languages, detected, reader=reader, reads_natively=native)

    def _served_by(self, v: Validated, language: LanguageOutcome) -> Scorer:
        """The request's scorer; with no override, a promoted head first where there is one;
        the scorer that reads the language where the policy asks for it."""
        native = self._reads_natively or v.scorer is not self.variants.base
        if language.action == "llm" and self._reader is not None and not native:
            return self._reader
        if self.heads is None or v.scorer is not self.variants.base:
            return v.scorer
        return self.heads.promoted(v.rubric.name, v.rubric.fingerprint) or v.scorer

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
    ) -> tuple[AxisScores, Thresholds, Floors, Calibration | None]:
        """Apply a stored calibration (``rubric calibrate``) after the cache, so refitting
        takes effect without busting cached results; its none_fits floor, where fitted,
        replaces the deployment's."""
        scored = result.axes[axis]
        # a trained head answers with thresholds fitted on its own cross-validated predictions
        thresholds = result.thresholds.get(axis) or rubric.thresholds_for(axis)
        path = self.rubrics.path_of(rubric.name)
        cal = (
            self.calibrations.find(path, self._calibration_key(rubric, axis, result))
            if path is not None
            else None
        )
        if cal is None:
            return scored, thresholds, self.floors, None
        return (*cal.applied(scored, thresholds), cal.floors_for(self.floors), cal)

    @staticmethod
    def _calibration_key(rubric: RubricSet, axis: str, result: ScoreResult) -> CalibrationKey:
        # what a calibration was fitted for: this rubric content, axis, scorer, model, prompt
        # and the embedded model's share in the answer
        fitted_for = result.model_dump(include={"scorer", "model", "prompt", "local_weight"})
        return CalibrationKey(fingerprint=rubric.fingerprint, axis=axis, **fitted_for)

    def _respond(self, item: _Prepared, result: ScoreResult, started: float) -> ClassifyResponse:
        rubric = item.rubric
        calibrated = {axis: self._calibrated(rubric, axis, result) for axis in item.axes}
        calibration = {axis: c[3].id for axis, c in calibrated.items() if c[3] is not None}

        def decide(flags: list[Flag]) -> dict[str, AxisResult]:
            def one(axis: str, scored: AxisScores, thresholds: Thresholds) -> AxisResult:
                _, _, floors, cal = calibrated[axis]
                fit = cal.fit_score(scored.raw) if cal is not None else None
                return item.language.axis(
                    decide_axis(
                        axis, scored, thresholds, floors, flags, fallback=result.fallback, fit=fit
                    )
                )

            # a child axis is answered within the label its parent chose (pipeline/hierarchy.py)
            forced = {axis for flag in flags for axis in flag.forced}
            tree = {
                axis: (scored, thresholds)
                for axis, (scored, thresholds, _, _) in calibrated.items()
            }
            return decide_tree(rubric, tree, one, forced)

        decided = decide(item.flags)
        # rules on the answers (and raise_to) run now, on the answers the first pass decided
        answers = {axis: r.top_label for axis, r in decided.items()}
        flags = settle_rules(rubric, item.flags, item.redacted.text, item.metadata, answers)
        if flags != item.flags:
            decided = decide(flags)
        primary_name = rubric.primary_axis if rubric.primary_axis in decided else item.axes[0]
        primary = decided.pop(primary_name)
        decision, reason = decide_ticket(primary, flags, fallback=result.fallback)
        label_route = next(
            (lb.route for lb in rubric.axes[primary_name].labels if lb.name == primary.top_label),
            None,
        )
        route, routed_by = ticket_route(label_route, flags)
        if routed_by is not None:
            reason = f"{reason}; {routed_by}"
        decision, reason, route = item.language.decided(
            decision, reason, route, rule_routed=routed_by is not None
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
            evidence=primary.evidence,
            route=route,
            axes=decided,
            flags=flags,
            redactions=item.redacted.entities,
            redacted=item.was_redacted,
            language=item.language.language,
            rubric=RubricRef(name=rubric.name, fingerprint=rubric.fingerprint),
            prompt=result.prompt,
            model=result.model,
            scorer=result.scorer,
            calibration=calibration.get(primary_name),
            usage=result.usage,
            reading=result.reading,
            structured_output=result.structured_output,
            fallback=result.fallback,
            local_weight=result.local_weight,
            cached=result.origin == "cache",
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            metadata=item.metadata,
        ).with_redacted_text(item.redacted.text)

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

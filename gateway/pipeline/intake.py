"""Intake: what a request may carry, and what it is classified with.

Every limit a request can meet is checked here, per ticket (the batch endpoint reports each
ticket's own error): text length, inline labels (count, length, examples), metadata; then the
rubric set, axes, redactor and scorer it gets. Inline labels are caller text that reaches the
scorer, so they are redacted like the ticket.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, SkipValidation

from gateway.config import Settings
from gateway.errors import (
    ForbiddenError,
    InvalidRequestError,
    LabelsInvalidError,
    TextEmptyError,
    TextTooLongError,
)
from gateway.redaction import PassThroughRedactor, Redactor
from gateway.rubrics import Label, RubricSet, RubricStore
from gateway.schemas import ClassifyRequest
from gateway.scoring import Scorer, ScorerVariants


class Validated(BaseModel):
    """A request that passed intake: what it is classified with (its text not yet redacted)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    rubric: RubricSet
    axes: tuple[str, ...]
    redactor: SkipValidation[Redactor]
    scorer: SkipValidation[Scorer]  # the served scorer, or the request's override variant

    @property
    def redacted(self) -> bool:
        return not isinstance(self.redactor, PassThroughRedactor)


class Intake:
    def __init__(
        self, settings: Settings, *, store: RubricStore, scorers: ScorerVariants, redactor: Redactor
    ) -> None:
        self.settings = settings
        self.rubrics = store
        self.redactor = redactor
        self.variants = scorers
        self._passthrough = PassThroughRedactor()

    def rubric_name(self, req: ClassifyRequest) -> str:
        """The rubric set a request is classified against: its own, the default, or
        ``inline`` for inline labels (what a key restricted to some sets is checked against)."""
        if req.labels is not None:
            return RubricSet.INLINE
        return req.rubric or self.settings.rubrics.default

    def _rubric_for(self, req: ClassifyRequest, redactor: Redactor) -> RubricSet:
        limits = self.settings.limits
        if req.labels is not None:
            if req.rubric is not None:
                raise InvalidRequestError("give either 'rubric' or inline 'labels', not both")
            if len(req.labels) > limits.max_inline_labels:
                raise LabelsInvalidError(
                    f"{len(req.labels)} inline labels; at most {limits.max_inline_labels}"
                )
            for i, label in enumerate(req.labels):
                self._check_label(i, label)
            return RubricSet.inline(self._redact_labels(req.labels, redactor))
        return self.rubrics.get(self.rubric_name(req))

    def _check_label(self, i: int, label: Label) -> None:
        """Everything an inline label carries is bounded: it becomes prompt text (paid for with
        the deployment's key) or embeddings (CPU)."""
        limits = self.settings.limits
        if len(label.examples) > limits.max_label_examples:
            raise LabelsInvalidError(
                f"labels[{i}] has {len(label.examples)} examples; at most "
                f"{limits.max_label_examples}"
            )
        for field, text in (("rubric", label.rubric), *(("examples", e) for e in label.examples)):
            if len(text) > limits.max_label_chars:
                raise LabelsInvalidError(
                    f"labels[{i}].{field} is longer than {limits.max_label_chars} chars"
                )

    def _check_metadata(self, metadata: dict[str, str]) -> None:
        limits = self.settings.limits
        if len(metadata) > limits.max_metadata_keys:
            raise InvalidRequestError(
                f"metadata has {len(metadata)} entries; at most {limits.max_metadata_keys}"
            )
        longest = max((max(len(k), len(v)) for k, v in metadata.items()), default=0)
        if longest > limits.max_metadata_chars:
            raise InvalidRequestError(
                f"metadata keys and values are at most {limits.max_metadata_chars} chars"
            )

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

    def validate(self, req: ClassifyRequest) -> Validated:
        """Checks, then the rubric, axes, redactor and scorer the request gets."""
        self._check_text(req.text)
        self._check_metadata(req.metadata)
        scorer = self.variants.for_request(req.model, req.prompt)
        redactor = self._redactor_for(req)
        rubric = self._rubric_for(req, redactor)
        axes = tuple(rubric.select_axes(req.axes))
        return Validated(rubric=rubric, axes=axes, redactor=redactor, scorer=scorer)

    @staticmethod
    def _redact_labels(labels: Sequence[Label], redactor: Redactor) -> Sequence[Label]:
        """Inline labels are caller text that reaches the scorer (a provider's prompt): their
        rubrics and examples are redacted like the ticket. Names stay: they are the answer."""
        if isinstance(redactor, PassThroughRedactor):
            return labels
        texts = [text for label in labels for text in (label.rubric, *label.examples)]
        redacted = iter(r.text for r in redactor.redact_batch(texts))
        return [
            label.model_copy(
                update={
                    "rubric": next(redacted),
                    "examples": tuple(next(redacted) for _ in label.examples),
                }
            )
            for label in labels
        ]

"""Rubric sets as validated, frozen models: thresholds, labels, axes, rules and the per-rubric
redaction overrides, plus the content hashes that cache keys and ``GET /rubrics`` use.

Parsing YAML into these (with ``file:line`` locations) is ``gateway.rubrics.loading``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Self

import regex  # type: ignore[import-untyped, unused-ignore]
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import LabelsInvalidError

PRIMARY_AXIS = "category"

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    auto_route: float = Field(0.85, ge=0, le=1)
    review: float = Field(0.60, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.auto_route:
            raise ValueError("review threshold must not exceed auto_route")
        return self


class Label(_Strict):
    name: Name
    rubric: NonEmpty
    examples: tuple[NonEmpty, ...] = ()
    route: str | None = None


class Axis(_Strict):
    description: str | None = None
    multi_label: bool = False
    thresholds: Thresholds | None = None
    labels: tuple[Label, ...] = Field(min_length=2)

    @field_validator("labels")
    @classmethod
    def _unique_names(cls, labels: tuple[Label, ...]) -> tuple[Label, ...]:
        seen: set[str] = set()
        for label in labels:
            if label.name in seen:
                raise ValueError(f"duplicate label name {label.name!r}")
            seen.add(label.name)
        return labels

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]


class Match(_Strict):
    any: tuple[NonEmpty, ...] = ()
    all: tuple[NonEmpty, ...] = ()
    regex: bool = False

    @model_validator(mode="after")
    def _valid(self) -> Match:
        if not self.any and not self.all:
            raise ValueError("a match needs at least one pattern in 'any' or 'all'")
        if self.regex:
            for pattern in (*self.any, *self.all):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return self


class Rule(_Strict):
    name: Name
    description: str | None = None
    match: Match
    action: Literal["escalate", "review", "flag"] = "flag"
    # axis -> label the rule forces when it fires
    force: dict[str, Name] = Field(default_factory=dict)


def _compilable(pattern: str) -> str:
    # checked at load, so a typo is reported with its file and line, not at the first ticket
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return pattern


class RedactionOverrides(_Strict):
    """Per-rubric additions to the deployment's redaction policy."""

    allow: tuple[NonEmpty, ...] = ()
    allow_patterns: tuple[Annotated[NonEmpty, AfterValidator(_compilable)], ...] = ()


class RubricSet(_Strict):
    # the name of a request's inline labels (RubricSet.inline); a key restricted to some sets
    # must list it to send inline labels
    INLINE: ClassVar[str] = "inline"

    name: Name
    description: str | None = None
    thresholds: Thresholds = Thresholds()
    axes: dict[Name, Axis] = Field(default_factory=dict)
    # Shorthand: a top-level label list is one axis named "category".
    labels: tuple[Label, ...] | None = Field(default=None, exclude=True)
    rules: tuple[Rule, ...] = ()
    redaction: RedactionOverrides = RedactionOverrides()
    # Hashes of this (frozen) content, worked out once: a request asks for them several times.
    _digests: dict[tuple[str, ...] | None, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve(self) -> RubricSet:
        if self.labels is not None:
            if self.axes:
                raise ValueError("give either 'labels' (one category axis) or 'axes', not both")
            axis = Axis(labels=self.labels)
            object.__setattr__(self, "axes", {PRIMARY_AXIS: axis})
            object.__setattr__(self, "labels", None)
        if not self.axes:
            raise ValueError("a rubric set needs 'axes' or a top-level 'labels' list")
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        for rule in self.rules:
            for axis_name, label in rule.force.items():
                if axis_name not in self.axes:
                    raise ValueError(f"rule {rule.name!r} forces unknown axis {axis_name!r}")
                if label not in self.axes[axis_name].names:
                    raise ValueError(
                        f"rule {rule.name!r} forces unknown label {label!r} on axis {axis_name!r}"
                    )
        return self

    @property
    def primary_axis(self) -> str:
        return PRIMARY_AXIS if PRIMARY_AXIS in self.axes else next(iter(self.axes))

    def thresholds_for(self, axis: str) -> Thresholds:
        return self.axes[axis].thresholds or self.thresholds

    def select_axes(self, wanted: Sequence[str] | None) -> list[str]:
        """The axes to answer, in rubric order; unknown names are a client error."""
        if not wanted:
            return list(self.axes)
        unknown = [name for name in wanted if name not in self.axes]
        if unknown:
            raise LabelsInvalidError(
                f"unknown axis {unknown[0]!r} for rubric {self.name!r}; has {sorted(self.axes)}"
            )
        return [name for name in self.axes if name in wanted]

    @property
    def fingerprint(self) -> str:
        """Hash of the parsed content: formatting edits keep it, meaning changes do not."""
        digest = self._digests.get(None)
        if digest is None:
            digest = self._digests[None] = _digest(self.model_dump(mode="json"))
        return digest

    def axis_fingerprint(self, axes: Iterable[str]) -> str:
        """Hash of the set as asked, for cache keys: every field of the set (its description
        reaches a prompt; thresholds gate the cascade) and the axes asked, the others left out
        so that asking one axis shares nothing with asking another. A new field is in it."""
        chosen = tuple(sorted(axes))
        digest = self._digests.get(chosen)
        if digest is None:
            content = self.model_dump(mode="json", exclude={"axes"})
            content["axes"] = {name: self.axes[name].model_dump(mode="json") for name in chosen}
            digest = self._digests[chosen] = _digest(content)
        return digest

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        copy._digests = {}  # the copy's content may differ
        return copy

    @classmethod
    def inline(cls, labels: Sequence[Label], thresholds: Thresholds | None = None) -> RubricSet:
        """The ScaleDown request form: inline labels become a one-axis set named ``inline``."""
        try:
            return cls(
                name=cls.INLINE,
                axes={PRIMARY_AXIS: Axis(labels=tuple(labels))},
                thresholds=thresholds or Thresholds(),
            )
        except ValidationError as exc:
            raise LabelsInvalidError(_plain_errors(exc, prefix="labels")) from None


def _digest(payload: object) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain_errors(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "axes")
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)

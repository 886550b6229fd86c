"""Rubric sets as validated, frozen models: thresholds, labels, axes, rules and the per-rubric
redaction overrides, plus the content hashes that cache keys and ``GET /rubrics`` use.

Parsing YAML into these (with ``file:line`` locations) is ``gateway.rubrics.loading``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import LabelsInvalidError
from gateway.rubrics.fields import PRIMARY_AXIS, SIGNAL_LABELS, Loc, Name, NonEmpty, Signal
from gateway.rubrics.fields import Strict as _Strict
from gateway.rubrics.hierarchy import hierarchy_problems, with_parents
from gateway.rubrics.languages import LanguagePolicy
from gateway.rubrics.rule_model import (
    Rule,
    RuleProblemsError,
    compilable,
)


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
    # a child axis' label: the parent axis' label it refines (rubrics/hierarchy.py); unset:
    # out of the dump, so fingerprints of flat sets stay what they were
    parent: Name | None = Field(None, exclude_if=lambda v: v is None)


class Axis(_Strict):
    description: str | None = None
    multi_label: bool = False
    thresholds: Thresholds | None = None
    # the axis this one refines: answered among the children of the label it chose
    parent: Name | None = Field(None, exclude_if=lambda v: v is None)
    # answered by a packaged head on the embedded path (fields.SIGNAL_LABELS); unset: out of
    # the dump, as ``parent``
    signal: Signal | None = Field(None, exclude_if=lambda v: v is None)
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

    @model_validator(mode="after")
    def _signal_labels(self) -> Axis:
        if self.signal is not None:
            wanted = SIGNAL_LABELS[self.signal]
            if sorted(self.names) != sorted(wanted):
                raise ValueError(
                    f"signal {self.signal}: its labels must be {', '.join(wanted)} (the packaged "
                    f"head's), got {', '.join(self.names)}"
                )
        return self

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]


class RedactionOverrides(_Strict):
    """Per-rubric additions to the deployment's redaction policy."""

    allow: tuple[NonEmpty, ...] = ()
    allow_patterns: tuple[Annotated[NonEmpty, AfterValidator(compilable)], ...] = ()


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
    languages: LanguagePolicy | None = Field(None, exclude_if=lambda v: v is None)  # languages.py
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
        problems = [*self._rule_problems(), *hierarchy_problems(self.axes)]
        if self.axes[self.primary_axis].parent is not None:
            problems.append(
                (("axes", self.primary_axis, "parent"), "the primary axis cannot have a parent")
            )
        if problems:
            raise RuleProblemsError(problems)
        return self

    def _rule_problems(self) -> Iterator[tuple[Loc, str]]:
        """Rules that name an axis or label the set does not have, or a name used twice."""
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            at: Loc = ("rules", i)
            if rule.name in seen:
                yield (*at, "name"), f"rule names must be unique: {rule.name!r} is used twice"
            seen.add(rule.name)
            uses: list[tuple[Loc, str, str, str]] = [
                ((*at, "force", a), "forces", a, lb) for a, lb in rule.force.items()
            ]
            uses += [((*at, "raise_to", a), "raises", a, lb) for a, lb in rule.raise_to.items()]
            if rule.when is not None:
                tests = rule.when.axis_tests((*at, "when"))
                uses += [(loc, "tests", a, lb) for loc, a, lb in tests]
            unknown_axes: set[Loc] = set()
            for loc, verb, axis_name, label in uses:
                if axis_name not in self.axes:
                    axis_loc = loc if verb != "tests" else loc[:-1]
                    if axis_loc not in unknown_axes:
                        unknown_axes.add(axis_loc)
                        yield (
                            axis_loc,
                            (
                                f"rule {rule.name!r} {verb} unknown axis {axis_name!r}; "
                                f"the set has {sorted(self.axes)}"
                            ),
                        )
                elif label not in self.axes[axis_name].names:
                    yield (
                        loc,
                        (
                            f"rule {rule.name!r} {verb} unknown label {label!r} on axis "
                            f"{axis_name!r}; it has {self.axes[axis_name].names}"
                        ),
                    )

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
        chosen = with_parents(self.axes, list(wanted))  # a child needs its parent's answer
        return [name for name in self.axes if name in chosen]

    def children(self, axis: str, parent_label: str) -> list[str]:
        """A child axis' labels under one label of its parent axis."""
        return [label.name for label in self.axes[axis].labels if label.parent == parent_label]

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

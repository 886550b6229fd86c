"""Rubric sets as validated, frozen models: thresholds, labels, axes, rules and the per-rubric
redaction overrides, plus the content hashes that cache keys and ``GET /rubrics`` use.

Parsing YAML into these (with ``file:line`` locations) is ``gateway.rubrics.loading``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Self

import regex  # type: ignore[import-untyped, unused-ignore]
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from gateway.errors import LabelsInvalidError

PRIMARY_AXIS = "category"

# A path into a rubric document: keys and list indexes, as pydantic reports error locations.
Loc = tuple[str | int, ...]

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


def _metadata_text(value: object) -> object:
    """A YAML scalar as the text it is compared with (request metadata values are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class ValueTest(_Strict):
    """A test on one request ``metadata`` value (a string). A scalar is shorthand for ``eq``,
    a list for ``in``; several operators in one mapping must all hold. ``eq``/``ne``/``in``
    compare numerically where both sides are numbers, else as case-insensitive text;
    ``gt``/``gte``/``lt``/``lte`` need a number and fail on a value that is not one. A missing
    key fails every test but ``exists: false``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    eq: str | None = None
    ne: str | None = None
    one_of: tuple[str, ...] | None = Field(None, alias="in", min_length=1)
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, list | tuple):
            data = {"in": data}
        elif not isinstance(data, dict):
            data = {"eq": data}
        out = dict(data)
        for key in ("eq", "ne"):
            if key in out:
                out[key] = _metadata_text(out[key])
        if isinstance(out.get("in"), list | tuple):
            out["in"] = [_metadata_text(v) for v in out["in"]]
        return out

    @model_validator(mode="after")
    def _valid(self) -> ValueTest:
        given = [name for name, value in self if value is not None]
        if not given:
            raise ValueError("a metadata test needs a value, a list, or an operator")
        if self.exists is False and len(given) > 1:
            raise ValueError("'exists: false' cannot be combined with other operators")
        return self


def _label_list(value: object) -> object:
    return (value,) if isinstance(value, str) else value


# one label, or a list of labels of which the axis' answer must be one
AxisLabels = Annotated[tuple[Name, ...], BeforeValidator(_label_list), Field(min_length=1)]


class Condition(_Strict):
    """What a rule's ``when:`` asks: every key given must hold (AND); ``any:`` holds when one of
    its conditions does (OR). ``axis`` tests the answer (top label) of another axis, so a rule
    that uses it runs after scoring."""

    text: Match | None = None
    metadata: dict[Name, ValueTest] = Field(default_factory=dict)
    axis: dict[Name, AxisLabels] = Field(default_factory=dict)
    any: tuple[Condition, ...] = ()

    @model_validator(mode="after")
    def _valid(self) -> Condition:
        if self.text is None and not self.metadata and not self.axis and not self.any:
            raise ValueError("a condition needs 'text', 'metadata', 'axis' or 'any'")
        return self

    def axis_tests(self, loc: Loc = ()) -> Iterator[tuple[Loc, str, str]]:
        """Every (location, axis, label) this condition tests, nested ones included."""
        for axis, labels in self.axis.items():
            for i, label in enumerate(labels):
                yield (*loc, "axis", axis, i), axis, label
        for i, alternative in enumerate(self.any):
            yield from alternative.axis_tests((*loc, "any", i))


class Rule(_Strict):
    name: Name
    description: str | None = None
    # conditions on the text (the original form); ``when`` adds metadata, axis answers, OR
    match: Match | None = None
    when: Condition | None = None
    action: Literal["escalate", "review", "flag"] = "flag"
    # axis -> label the rule forces when it fires
    force: dict[str, Name] = Field(default_factory=dict)
    # axis -> the lowest label the answer may have (an axis' labels are listed highest first)
    raise_to: dict[Name, Name] = Field(default_factory=dict)
    # where the ticket goes when the rule fires, instead of its top label's route
    route: Name | None = None

    @model_validator(mode="after")
    def _valid(self) -> Rule:
        if self.match is None and self.when is None:
            raise ValueError("a rule needs 'match' (text) or 'when' (conditions)")
        both = sorted(set(self.force) & set(self.raise_to))
        if both:
            raise ValueError(f"axis {both[0]!r} is in both 'force' and 'raise_to'")
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # the fields added with ``when`` stay out of the dump while unused, so the fingerprint
        # of a rubric whose rules do not use them is what it was before they existed (its
        # calibrations, promoted heads and cache entries stay bound to it)
        data: dict[str, Any] = handler(self)
        for key in ("when", "raise_to", "route"):
            if key in data and data[key] in (None, {}):
                del data[key]
        return data

    @property
    def uses_answers(self) -> bool:
        """Whether the rule tests another axis' answer, and so runs after scoring."""
        return self.when is not None and next(self.when.axis_tests(), None) is not None


class RuleProblemsError(ValueError):
    """Problems a rubric set finds across its fields, each at its own location below the set;
    the loader reports each with its line (``file:line: field: message``)."""

    def __init__(self, problems: Sequence[tuple[Loc, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(message for _, message in self.problems))


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
        problems = list(self._rule_problems())
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

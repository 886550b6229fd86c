"""Deterministic rules of a rubric set: what they match (text, metadata, other axes' answers)
and what they do (escalate, review, flag; force, raise, route)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

import regex  # type: ignore[import-untyped, unused-ignore]
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from gateway.rubrics.fields import Loc, Name, NonEmpty
from gateway.rubrics.fields import Strict as _Strict


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


def compilable(pattern: str) -> str:
    # checked at load, so a typo is reported with its file and line, not at the first ticket
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return pattern

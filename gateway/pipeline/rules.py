"""Deterministic rules from a rubric set: conditions on the redacted text (``match``, or
``when.text``), on the request's ``metadata`` and on other axes' answers (``when.axis``).

Two passes. ``apply_rules`` runs before scoring with the rules that test no axis answer;
``settle_rules`` runs after scoring with the answers as decided (a forcing rule applied): it adds
the rules that test them and resolves every fired rule's ``raise_to`` against them. A rule never
calls a model; a flag says what held and where the text matched, never what it matched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from gateway.rubrics import Condition, Match, RubricSet, Rule, ValueTest
from gateway.schemas import Flag

Span = tuple[int, int]


@lru_cache(maxsize=1024)
def _compile(pattern: str, regex: bool) -> re.Pattern[str]:
    body = pattern if regex else re.escape(pattern)
    # Word boundaries where the pattern starts/ends with a word character, so "down" does
    # not fire inside "download".
    prefix = r"\b" if re.match(r"\w", pattern) else ""
    suffix = r"\b" if re.search(r"\w$", pattern) else ""
    return re.compile(f"{prefix}(?:{body}){suffix}", re.IGNORECASE)


def find(match: Match, text: str) -> Span | None:
    """Where ``match`` holds in ``text``: the earliest span among its patterns that matched,
    or None when it does not hold (every ``all`` pattern and one ``any`` pattern must match)."""
    spans: list[Span] = []
    for pattern in match.all:
        found = _compile(pattern, match.regex).search(text)
        if found is None:
            return None
        spans.append(found.span())
    if match.any:
        hits = [_compile(p, match.regex).search(text) for p in match.any]
        any_spans = [hit.span() for hit in hits if hit is not None]
        if not any_spans:
            return None
        spans += any_spans
    return min(spans)


def matches(match: Match, text: str) -> bool:
    return find(match, text) is not None


def _number(value: str) -> float | None:
    try:
        number = float(value.strip().replace("_", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _same(value: str, expected: str) -> bool:
    a, b = _number(value), _number(expected)
    if a is not None and b is not None:
        return a == b
    return value.strip().casefold() == expected.strip().casefold()


def value_holds(test: ValueTest, value: str | None) -> bool:
    """One metadata test on one value (None: the key is missing)."""
    if value is None:
        return test.exists is False
    if test.exists is False:
        return False
    if test.eq is not None and not _same(value, test.eq):
        return False
    if test.ne is not None and _same(value, test.ne):
        return False
    if test.one_of is not None and not any(_same(value, v) for v in test.one_of):
        return False
    bounds = (test.gt, test.gte, test.lt, test.lte)
    if all(bound is None for bound in bounds):
        return True
    number = _number(value)
    if number is None:
        return False
    return (
        (test.gt is None or number > test.gt)
        and (test.gte is None or number >= test.gte)
        and (test.lt is None or number < test.lt)
        and (test.lte is None or number <= test.lte)
    )


@dataclass(frozen=True)
class _Hit:
    on: tuple[str, ...] = ()
    span: Span | None = None

    def __add__(self, other: _Hit) -> _Hit:
        return _Hit(self.on + other.on, self.span if self.span is not None else other.span)


def _holds(
    cond: Condition, text: str, metadata: Mapping[str, str], answers: Mapping[str, str]
) -> _Hit | None:
    """What made ``cond`` hold, or None. An axis not answered fails its test."""
    hit = _Hit()
    if cond.text is not None:
        span = find(cond.text, text)
        if span is None:
            return None
        hit += _Hit(("text",), span)
    for key, test in cond.metadata.items():
        if not value_holds(test, metadata.get(key)):
            return None
        hit += _Hit((f"metadata.{key}",))
    for axis, labels in cond.axis.items():
        if answers.get(axis) not in labels:
            return None
        hit += _Hit((f"axis.{axis}",))
    if cond.any:
        first = next(
            (h for alt in cond.any if (h := _holds(alt, text, metadata, answers)) is not None),
            None,
        )
        if first is None:
            return None
        hit += first
    return hit


def _fired(
    rule: Rule,
    text: str,
    metadata: Mapping[str, str],
    answers: Mapping[str, str],
    axes: Sequence[str] | None,
) -> Flag | None:
    hit = _Hit()
    if rule.match is not None:
        span = find(rule.match, text)
        if span is None:
            return None
        hit += _Hit(("text",), span)
    if rule.when is not None:
        found = _holds(rule.when, text, metadata, answers)
        if found is None:
            return None
        hit += found
    forced = {k: v for k, v in rule.force.items() if axes is None or k in axes}
    return Flag(
        rule=rule.name,
        action=rule.action,
        forced=forced,
        route=rule.route,
        span=hit.span,
        matched_on=list(dict.fromkeys(hit.on)),
    )


def apply_rules(
    rubric: RubricSet,
    text: str,
    axes: Sequence[str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> list[Flag]:
    """The rules that test no axis answer and fire on ``text`` (redacted) and ``metadata``,
    with the outcomes they force on the axes asked (``axes``; None: all)."""
    flags = []
    for rule in rubric.rules:
        if rule.uses_answers:
            continue
        flag = _fired(rule, text, metadata or {}, {}, axes)
        if flag is not None:
            flags.append(flag)
    return flags


def _raised(rubric: RubricSet, rule: Rule, flag: Flag, answers: Mapping[str, str]) -> Flag:
    """``flag`` with the rule's ``raise_to`` applied where the answer is below the label (an
    axis' labels are listed highest first); an axis not answered is left alone."""
    raised = {}
    for axis, floor in rule.raise_to.items():
        answer = answers.get(axis)
        if answer is None or axis in flag.forced:
            continue
        order = rubric.axes[axis].names
        if order.index(answer) > order.index(floor):
            raised[axis] = floor
    if not raised:
        return flag
    return flag.model_copy(
        update={"forced": {**flag.forced, **raised}, "raised": {**flag.raised, **raised}}
    )


def settle_rules(
    rubric: RubricSet,
    flags: Sequence[Flag],
    text: str,
    metadata: Mapping[str, str],
    answers: Mapping[str, str],
) -> list[Flag]:
    """Every flag of the ticket, in rubric order, once its axes are answered (``answers``: axis
    -> top label, for the axes asked): ``flags`` from ``apply_rules``, the rules that test an
    answer and hold, and each fired rule's ``raise_to`` resolved. The answers are those decided
    with ``flags``; rules added here do not see each other's outcomes."""
    fired = {flag.rule: flag for flag in flags}
    settled = []
    for rule in rubric.rules:
        flag = fired.pop(rule.name, None)
        if flag is None and rule.uses_answers:
            flag = _fired(rule, text, metadata, answers, list(answers))
        if flag is not None:
            settled.append(_raised(rubric, rule, flag, answers))
    settled += fired.values()  # flags of no rule of this set: kept, never dropped silently
    return settled

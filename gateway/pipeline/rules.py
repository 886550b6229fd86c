"""Deterministic keyword/regex rules from a rubric set. They never depend on a model."""

from __future__ import annotations

import re
from functools import lru_cache

from gateway.rubrics import Match, RubricSet
from gateway.schemas import Flag


@lru_cache(maxsize=1024)
def _compile(pattern: str, regex: bool) -> re.Pattern[str]:
    body = pattern if regex else re.escape(pattern)
    # Word boundaries where the pattern starts/ends with a word character, so "down" does
    # not fire inside "download".
    prefix = r"\b" if re.match(r"\w", pattern) else ""
    suffix = r"\b" if re.search(r"\w$", pattern) else ""
    return re.compile(f"{prefix}(?:{body}){suffix}", re.IGNORECASE)


def matches(match: Match, text: str) -> bool:
    if match.all and not all(_compile(p, match.regex).search(text) for p in match.all):
        return False
    if match.any:
        return any(_compile(p, match.regex).search(text) for p in match.any)
    return True


def apply_rules(rubric: RubricSet, text: str, axes: list[str] | None = None) -> list[Flag]:
    """Rules that fire on ``text`` (redacted), with the outcomes they force on the axes asked."""
    flags = []
    for rule in rubric.rules:
        if matches(rule.match, text):
            forced = {k: v for k, v in rule.force.items() if axes is None or k in axes}
            flags.append(Flag(rule=rule.name, action=rule.action, forced=forced))
    return flags

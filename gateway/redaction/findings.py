"""``Finding`` and the helpers that tidy, filter and merge the analyzer's results.

- ``clean_result`` turns one Presidio result into a ``Finding`` (whole words, a name on one
  line, no greeting) or drops it (acronyms, organisations, NER's guesses after "my");
- ``protected_spans`` finds keep-spans (what routing needs) and allow-spans (allow lists), as
  ``SpanIndex`` es that ``inside_any`` asks in O(log n) (a long ticket has hundreds of each);
- ``merge_overlaps`` merges overlapping findings so placeholders never nest.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

from gateway.errors import ConfigError
from gateway.redaction.patterns import AFTER_SELF_CUE, KEEP_PATTERNS

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

log = logging.getLogger(__name__)

# Types found by heuristics (NER, number layouts, bare patterns): they yield to keep-spans.
# E-mail, card (Luhn) and IBAN (mod-97) are validated structures and are never dropped that way.
HEURISTIC_TYPES: Final = frozenset(
    {"PERSON", "LOCATION", "PHONE_NUMBER", "IP_ADDRESS", "US_SSN", "DATE_OF_BIRTH", "ADDRESS"}
)

# Tie-break when overlapping findings of equal length merge: validated structures first.
_TYPE_RANK: Final = {
    t: -i
    for i, t in enumerate(
        (
            "EMAIL_ADDRESS",
            "IBAN_CODE",
            "CREDIT_CARD",
            "US_SSN",
            "IP_ADDRESS",
            "PHONE_NUMBER",
            "ADDRESS",
            "DATE_OF_BIRTH",
            "PERSON",
            "LOCATION",
        )
    )
}

_ALLOW_TIMEOUT_S: Final = 0.05  # an allow pattern comes from a rubric file: bound its cost
# Presidio's name for its spaCy recognizer: a finding it made is NER's guess, not a cue's.
_NER_RECOGNIZER: Final = "SpacyRecognizer"

# Capitalised words that follow the name cues (patterns.py) without being names ("contact
# Support").
_NOT_NAME_WORDS = """
    support service services team care success department desk help helpdesk portal center centre
    account accounts billing sales id number no the a an this that it not very so here there
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december i you we they he she my our your their sorry
    please hello hi hey dear thanks thank regards best urgent mr mrs ms mx miss dr prof sir dame
    cheers sincerely warmly yours kind many
    again anyway everyone everybody all guys folks mate much lots
"""
_NOT_NAMES: Final = frozenset(_NOT_NAME_WORDS.split())
# One of these makes a capitalised phrase an organisation ("Best, Acme Corp Procurement").
_ORG_WORD_LIST = """
    inc corp corporation ltd llc plc gmbh co company team group dept department procurement
    services solutions technologies bank university foundation
"""
_ORG_WORDS: Final = frozenset(_ORG_WORD_LIST.split())
# A cue-found "name" that spaCy reads as one of these is not a person ("I'm Canadian",
# "it's Easter"). ORG is not among them: the small model often reads full names as ORG.
NOT_NAME_LABELS: Final = frozenset({"NORP", "DATE", "TIME", "LANGUAGE", "EVENT"})

# Greetings NER pulls into a name ("Hi Mike"): stripped, the name stays.
_LEADING_GREETING: Final = regex.compile(r"(?:(?i:dear|hi|hello|hey)\b[\s,]*)+")
# NER's guess is dropped after a possessive or an article ("my Discover card", "My MacBook
# Pro"), except "the" before a place ("the Netherlands").
_DETERMINER = r"(?i:my|your|our|their|his|her|its|the|a|an|this|that|these|those)"
_DETERMINER_BEFORE: Final = regex.compile(rf"\b{_DETERMINER}[ \t]+$")
_DETERMINER_INSIDE: Final = regex.compile(rf"{_DETERMINER}\b")
_SENTENCE_START_AFTER: Final = frozenset(".!?:;\n\"'(")
# Scripts written without spaces: a letter of theirs does not make a finding's word longer
# ("我叫王伟想问一下" is a sentence, not a word around "王伟").
_NO_SPACE_SCRIPT: Final = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)
# How far a finding grows to the edges of its word: further is not one word's fragment, and
# unbounded it makes a run of findings inside one 20,000-character "word" quadratic.
_MAX_WORD_GROWTH: Final = 64


@dataclass(frozen=True, slots=True)
class Finding:
    """One span to redact: ``text[start:end]`` is replaced by ``<entity_type>``."""

    start: int
    end: int
    entity_type: str
    score: float

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class AllowList:
    """Compiled allow terms and patterns: a finding inside one of their matches is kept."""

    patterns: tuple[regex.Pattern[str], ...]


def compile_allow(terms: Iterable[str], patterns: Iterable[str], where: str) -> AllowList:
    """``terms`` as one whole-word, any-case pattern, then ``patterns``; ``where`` names the
    setting in the error for an invalid one."""
    compiled: list[regex.Pattern[str]] = []
    words = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    if words:
        alternatives = "|".join(regex.escape(w) for w in words)
        compiled.append(regex.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", regex.IGNORECASE))
    for index, pattern in enumerate(patterns):
        try:
            compiled.append(regex.compile(pattern))
        except regex.error as exc:
            # a pattern is configuration, not ticket text, so the message may point at it
            raise ConfigError(f"{where}[{index}]: invalid regular expression: {exc}") from None
    return AllowList(tuple(compiled))


class SpanIndex:
    """Spans, indexed for "does one of them contain this finding?"."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(spans)
        self._starts = [a for a, _ in ordered]
        # the furthest end among the spans that start at or before each one
        self._reach: list[int] = []
        for _, b in ordered:
            self._reach.append(max(b, self._reach[-1]) if self._reach else b)

    def covers(self, start: int, end: int) -> bool:
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._reach[i] >= end


def protected_spans(text: str, *allow_lists: AllowList | None) -> tuple[SpanIndex, SpanIndex]:
    """Keep-spans (shield heuristic types) and allow-spans (shield every type)."""
    keep = [m.span() for pattern in KEEP_PATTERNS for m in pattern.finditer(text)]
    allowed: list[tuple[int, int]] = []
    for allow in allow_lists:
        for pattern in allow.patterns if allow else ():
            try:
                allowed.extend(
                    m.span()
                    for m in pattern.finditer(text, timeout=_ALLOW_TIMEOUT_S)
                    if m.end() > m.start()
                )
            except TimeoutError:
                # fail closed: without the allow-span the finding stays redacted
                log.warning("an allow pattern timed out and was skipped for one text")
    return SpanIndex(keep), SpanIndex(allowed)


def inside_any(finding: Finding, spans: SpanIndex) -> bool:
    return spans.covers(finding.start, finding.end)


@dataclass(frozen=True, slots=True)
class NameContext:
    dictionary: frozenset[str]
    not_names: list[tuple[int, int]]  # spans spaCy labelled as something other than a name


def clean_result(text: str, result: RecognizerResult, context: NameContext) -> Finding | None:
    """Tidy one analyzer result; ``None`` drops it."""
    start, end, kind = result.start, result.end, result.entity_type
    # A span never ends inside a word: a placeholder glued to half a token garbles the text
    # and can leave part of the value behind.
    floor, ceiling = max(0, start - _MAX_WORD_GROWTH), min(len(text), end + _MAX_WORD_GROWTH)
    while start > floor and _in_word(text[start - 1]):
        start -= 1
    while end < ceiling and _in_word(text[end]):
        end += 1
    if kind == "EMAIL_ADDRESS":
        # Presidio's pattern takes Chinese characters for part of the name: "邮箱是li@163.com"
        while start < end and _NO_SPACE_SCRIPT.match(text[start]):
            start += 1
    if kind in ("PERSON", "LOCATION"):
        from_ner = (result.recognition_metadata or {}).get("recognizer_name") == _NER_RECOGNIZER
        bounds = _clean_name(text, start, end, kind, from_ner, context)
        if bounds is None:
            return None
        start, end = bounds
    return Finding(start, end, kind, float(result.score))


def _in_word(c: str) -> bool:
    return c.isalnum() and not _NO_SPACE_SCRIPT.match(c)


def _clean_name(
    text: str, start: int, end: int, kind: str, from_ner: bool, context: NameContext
) -> tuple[int, int] | None:
    greeting = _LEADING_GREETING.match(text, start, end)
    if greeting:
        start = greeting.end()
    # a name does not run across lines ("Aisha Bello\nHead of IT")
    value = text[start:end].split("\n", 1)[0].rstrip(" \t.,;:'’")
    end = start + len(value)
    if not value or any(c.isdigit() or c == "@" for c in value):
        return None  # names have no digits ("Order 4482019"); e-mails are found as such
    words = [w.lower().strip("'’.,") for w in value.split()]
    if all(w in _NOT_NAMES for w in words):
        return None
    if kind == "PERSON" and any(w in _ORG_WORDS for w in words):
        return None
    if len(words) == 1 and value.isupper() and len(value) <= 5:
        return None  # acronyms: SSN, CDN, IBAN
    if not from_ner:
        # "I'm Canadian", "it's Easter": after a self-introduction spaCy's reading as a
        # nationality, date or event wins; after a sign-off or a role word ("Cheers, Hamish")
        # the cue does.
        vetoed = AFTER_SELF_CUE.search(text, max(0, start - 40), start) is not None and any(
            a <= start and end <= b for a, b in context.not_names
        )
        return None if vetoed else (start, end)
    # The small model reads much into capitals; these checks apply to its guesses only.
    if _NO_SPACE_SCRIPT.search(value):
        return None  # an English model's guess on Chinese text is noise ("他的手机是" as a place)
    before = text[max(0, start - 12) : start]
    determiner = _DETERMINER_BEFORE.search(before) or _DETERMINER_INSIDE.match(value)
    if determiner and not (kind == "LOCATION" and determiner[0].lower() == "the"):
        return None
    if len(words) == 1 and words[0] in context.dictionary:
        # A dictionary word capitalised because it opens a sentence, followed by a lower-case
        # word ("Password reset emails ..."), is not taken for a name on NER's word alone.
        opens_sentence = not before.strip() or before.rstrip()[-1] in _SENTENCE_START_AFTER
        if opens_sentence and text[end:].lstrip(" \t")[:1].islower():
            return None
    return start, end


def merge_overlaps(findings: list[Finding]) -> list[Finding]:
    """Merge overlapping findings into one, typed after its longest member.

    Merging (rather than dropping the weaker finding) keeps every character either covered
    redacted, and one placeholder a group means placeholders never nest or split a word.
    """

    def rank(f: Finding) -> tuple[int, int, float]:
        return (f.length, _TYPE_RANK.get(f.entity_type, -99), f.score)

    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            best = max(last, finding, key=rank)
            end = max(last.end, finding.end)
            merged[-1] = Finding(last.start, end, best.entity_type, max(last.score, finding.score))
        else:
            merged.append(finding)
    return merged

"""What detection reads: the ticket decoded and normalised, with a map back to the original; and
the copy spaCy reads, where runs that cost it quadratic time are blanked.

``normalise`` undoes the tricks that walk PII past the recognizers, in two passes:

1. character references (``&#64;``, ``&#x40;``, ``&commat;``) and runs of URL escapes (``%40``,
   ``%2B1%20415``) are decoded where they decode to text (no control characters);
2. then, one character cluster (a character and its combining marks) at a time: NFKC (fullwidth
   ``＠`` and digits, ligatures, no-break spaces); format characters (Unicode Cf: zero-width space,
   word joiner, BOM, soft hyphen, bidi controls) dropped, except a zero-width (non-)joiner between
   two non-ASCII characters, where it is part of the writing (emoji, Indic and Persian scripts);
   variation selectors and the keycap mark after an ASCII character dropped; a dash between two
   digits becomes ``-`` and an ideographic full stop between ASCII letters or digits ``.``.

The normalised text is what is redacted and forwarded: the scorer reads fullwidth digits as ASCII
and never a zero-width space. ``Normalised.source_span`` maps a span back to the original text.
"""

from __future__ import annotations

import html
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

_ENCODED: Final = regex.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|(?:%[0-9A-Fa-f]{2})+"
)
# An ASCII character followed by marks ("e" + U+0301, "1" + U+FE0F + U+20E3), or any other
# character with its marks: NFKC composes within a cluster.
_CLUSTER: Final = regex.compile(r"[\x00-\x7f]\p{M}+|[^\x00-\x7f]\p{M}*")
# Whether pass 2 has anything to do beyond what ``unicodedata.is_normalized`` sees.
_PASS_2_CHARS: Final = regex.compile(r"[\p{Cf}\p{Pd}\p{M}\u2212\u3002\u3164\uffa0]")
_JOINERS: Final = frozenset("\u200c\u200d")
# invisible, yet letters or marks rather than Cf: combining grapheme joiner, Hangul fillers
_INVISIBLE: Final = frozenset("\u034f\u115f\u1160\u3164\uffa0")
_DASHES: Final = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_MAX_EXPANSION: Final = 4  # NFKC turns U+FDFA into 18 characters; such clusters stay as written


@dataclass(frozen=True, slots=True)
class _Rewrite:
    """One pass's replacements, in text order: ``source[src_start[k]:src_end[k]]`` became
    ``out[dst_start[k]:dst_end[k]]``; text between them is unchanged."""

    src_start: tuple[int, ...]
    src_end: tuple[int, ...]
    dst_start: tuple[int, ...]
    dst_end: tuple[int, ...]

    def start(self, p: int) -> int:
        k = bisect_right(self.dst_start, p) - 1
        if k < 0:
            return p
        if p < self.dst_end[k]:
            return self.src_start[k]  # inside a replacement: from where it came
        return self.src_end[k] + p - self.dst_end[k]

    def end(self, q: int) -> int:
        k = bisect_right(self.dst_start, q - 1) - 1
        if k < 0:
            return q
        if q - 1 < self.dst_end[k]:
            return self.src_end[k]
        return self.src_end[k] + q - self.dst_end[k]


@dataclass(frozen=True, slots=True)
class Normalised:
    """``text`` as detection reads it, and how to find a span of it in the original."""

    text: str
    passes: tuple[_Rewrite, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.passes)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Where ``text[start:end]`` came from: every original character that went into it
        (a decoded ``&#64;`` maps back to all five)."""
        for rewrite in reversed(self.passes):
            if end <= start:
                start = end = rewrite.start(start)
            else:
                start, end = rewrite.start(start), rewrite.end(end)
        return start, end


def normalise(text: str) -> Normalised:
    passes: list[_Rewrite] = []
    for make_edits in (_decode_edits, _cluster_edits):
        text, rewrite = _apply(text, make_edits(text))
        if rewrite is not None:
            passes.append(rewrite)
    return Normalised(text, tuple(passes))


def _apply(text: str, edits: Iterable[tuple[int, int, str]]) -> tuple[str, _Rewrite | None]:
    parts: list[str] = []
    src_start: list[int] = []
    src_end: list[int] = []
    dst_start: list[int] = []
    dst_end: list[int] = []
    last = length = 0
    for start, end, new in edits:  # in text order, not overlapping
        parts.append(text[last:start])
        length += start - last
        src_start.append(start)
        src_end.append(end)
        dst_start.append(length)
        parts.append(new)
        length += len(new)
        dst_end.append(length)
        last = end
    if not src_start:
        return text, None
    parts.append(text[last:])
    rewrite = _Rewrite(tuple(src_start), tuple(src_end), tuple(dst_start), tuple(dst_end))
    return "".join(parts), rewrite


def _decode_edits(text: str) -> Iterable[tuple[int, int, str]]:
    if "&" not in text and "%" not in text:
        return
    for match in _ENCODED.finditer(text):
        encoded = match[0]
        if encoded[0] == "&":
            decoded = html.unescape(encoded)
        else:
            try:
                decoded = bytes.fromhex(encoded.replace("%", "")).decode("utf-8")
            except UnicodeDecodeError:
                continue  # "%AB" in "20%AB test" is not an escape
        if decoded != encoded and not any(unicodedata.category(c) == "Cc" for c in decoded):
            yield match.start(), match.end(), decoded


def _cluster_edits(text: str) -> Iterable[tuple[int, int, str]]:
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and not _PASS_2_CHARS.search(text)
    ):
        return
    for match in _CLUSTER.finditer(text):
        cluster, start, end = match[0], match.start(), match.end()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        new = _normalise_cluster(cluster, before, after)
        if new != cluster:
            yield start, end, new


def _normalise_cluster(cluster: str, before: str, after: str) -> str:
    base = cluster[0]
    if unicodedata.category(base) == "Cf":
        joins_writing = base in _JOINERS and not (before.isascii() or after.isascii())
        return cluster if joins_writing else ""
    if base in _INVISIBLE:
        return ""
    if base.isascii():
        # keycaps and emoji presentation on a digit or letter: "4️⃣" is a 4
        marks = (m for m in cluster[1:] if not ("\ufe00" <= m <= "\ufe0f" or m in "\u20e3\u034f"))
        cluster = base + "".join(marks)
    new = unicodedata.normalize("NFKC", cluster)
    if len(new) > _MAX_EXPANSION:
        return cluster
    if new in _DASHES and before.isdigit() and after.isdigit():
        return "-"
    if new == "\u3002" and _ascii_alnum(before) and _ascii_alnum(after):
        return "."
    return new


def _ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


# spaCy's tokenizer strips prefixes and suffixes one character at a time, searching the rest of
# the "word" each time: a 20,000-character run without spaces cost it quadratic time (~40 s for
# "!" * 20000). And NER costs ~0.1 ms a token: "A-" * 10000 is 20,000 tokens. So spaCy reads a
# copy of the same length (its offsets are the text's) in which runs of 4+ symbols are blanked
# (nothing NER could read; combining marks are not symbols) and, in runs of more than 64
# characters without a space, only stretches of 2+ letters or digits are kept ("Name:JaneDoe;"
# still reads as words), broken every 64 characters. The recognizers read the text itself.
_SYMBOL_RUN: Final = regex.compile(r"[^\p{L}\p{M}\p{N}\s]{4,}")  # marks belong to letters
_LONG_RUN: Final = regex.compile(r"\S{65,}")
_NOT_A_WORD: Final = regex.compile(r"[^\p{L}\p{N}]|(?<![\p{L}\p{N}])[\p{L}\p{N}](?![\p{L}\p{N}])")
_RUN_PIECE: Final = 64


def spacy_view(text: str) -> str:
    """The text as spaCy reads it: same length, symbol runs blanked, long runs thinned."""
    text = _SYMBOL_RUN.sub(lambda m: " " * len(m[0]), text)
    return _LONG_RUN.sub(_thin_run, text)


def _thin_run(match: regex.Match[str]) -> str:
    run = list(_NOT_A_WORD.sub(" ", match[0]))
    for i in range(_RUN_PIECE - 1, len(run), _RUN_PIECE):
        run[i] = " "
    return "".join(run)

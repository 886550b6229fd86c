"""Redaction per language: the English model where it fits, pattern recognizers elsewhere.

The only NER model installed is English (``en_core_web_sm``); on German, French or Spanish text
it tags ordinary words as people ("Rechnung", "mir wurde", "Sie", "Grüßen" became ``<PERSON>``
on a real run), which erases the words the scorer needs. PyPI has no German, Spanish or
multilingual spaCy model for spaCy 3.8 (only a French one; README "Redaction per language"),
so a ticket detected in another language is redacted with the pattern recognizers only (cards,
IBANs, e-mails, phones, addresses, names after a cue in de/fr/es), NER off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from gateway.redaction.base import BatchRedactor, RedactedText, Redactor
from gateway.rubrics import RedactionOverrides

#: How sure the detector must be before NER is turned off: below it the English redactor runs
#: (it over-redacts a foreign ticket, but never lets a name through on a misdetected English one).
NER_OFF_CONFIDENCE: Final = 0.8


class PerLanguageRedactor(BatchRedactor):
    """The English redactor for English (and for text of unknown language); ``other`` for a
    ticket surely in another language. As a plain ``Redactor`` it is the English one."""

    def __init__(self, english: Redactor, other: Redactor) -> None:
        self.english = english
        self.other = other

    def for_language(self, code: str | None, confidence: float = 1.0) -> Redactor:
        if code is None or code == "en" or confidence < NER_OFF_CONFIDENCE:
            return self.english
        return self.other

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        return self.english.redact_batch(texts, overrides)

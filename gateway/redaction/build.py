"""Builds the deployment's redactor once at start-up."""

from __future__ import annotations

from gateway.config import RedactionSettings
from gateway.redaction.base import PassThroughRedactor, Redactor
from gateway.redaction.memo import MemoizedRedactor
from gateway.redaction.nlp import SpacyModel
from gateway.redaction.presidio import PresidioRedactor


def build_redactor(
    settings: RedactionSettings, nlp: SpacyModel | None = None, *, ner: bool = True
) -> Redactor:
    """Presidio (behind the in-process memo unless ``GATEWAY_REDACTION_MEMO_CHARS=0``), or
    pass-through where the deployment turned redaction off.

    ``nlp`` is the spaCy model to share (tests, reloads); one is loaded when none is given and
    redaction is on. ``ner=False``: pattern recognizers only (``language.py``).
    """
    if not settings.enabled:
        return PassThroughRedactor()
    presidio = PresidioRedactor.from_settings(settings, nlp, ner=ner)
    if settings.memo_chars == 0:
        return presidio
    return MemoizedRedactor(presidio, settings.memo_chars)

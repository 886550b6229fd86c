"""Redaction: nothing raw goes past a Redactor (DESIGN.md §1).

``PresidioRedactor`` (Presidio over an injected ``SpacyModel`` from ``load_spacy_model``),
``MemoizedRedactor`` (the in-process memo in front of it), ``PassThroughRedactor`` and
``build_redactor``, which assembles the deployment's. Importing this package does not import
spaCy or Presidio: they load with the first model.
"""

from gateway.redaction.base import BatchRedactor, PassThroughRedactor, RedactedText, Redactor
from gateway.redaction.build import build_redactor
from gateway.redaction.findings import Finding
from gateway.redaction.language import NER_OFF_CONFIDENCE, PerLanguageRedactor
from gateway.redaction.memo import MemoizedRedactor
from gateway.redaction.nlp import SPACY_MODEL, SPACY_MODEL_REQUIREMENT, SpacyModel, load_spacy_model
from gateway.redaction.presidio import ENTITY_TYPES, PresidioRedactor

__all__ = [
    "ENTITY_TYPES",
    "NER_OFF_CONFIDENCE",
    "SPACY_MODEL",
    "SPACY_MODEL_REQUIREMENT",
    "BatchRedactor",
    "Finding",
    "MemoizedRedactor",
    "PassThroughRedactor",
    "PerLanguageRedactor",
    "PresidioRedactor",
    "RedactedText",
    "Redactor",
    "SpacyModel",
    "build_redactor",
    "load_spacy_model",
]

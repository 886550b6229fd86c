"""``PresidioRedactor``: finds personal data with Microsoft Presidio and replaces each finding
with a typed placeholder (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...).

Detection is Presidio's analyzer with an explicit, offline set-up:

- it reads the normalised text (``normalise.py``: NFKC, no zero-width or format characters,
  HTML and URL escapes decoded), which is also what is redacted and forwarded; spaCy reads a
  same-length copy in which runs that would cost its tokenizer quadratic time are blanked;
- the NLP engine is the spaCy model's ``ner`` only (``nlp.py``), loaded once and injected: one
  ``SpacyModel`` may serve several redactors;
- the recognizers are chosen, not Presidio's defaults (``recognizers.py``, ``patterns.py``);
- findings of the heuristic types that lie inside something routing needs (an order or invoice
  id, a version, an amount) or inside an allow-listed term are dropped, and overlapping findings
  are merged so placeholders never nest (``findings.py``).

Entity types, patterns and the threshold were chosen with ``bench/redaction.py`` (README).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from gateway.errors import ConfigError
from gateway.redaction.base import RedactedText
from gateway.redaction.findings import (
    HEURISTIC_TYPES,
    NOT_NAME_LABELS,
    AllowList,
    Finding,
    NameContext,
    clean_result,
    compile_allow,
    inside_any,
    merge_overlaps,
    protected_spans,
)
from gateway.redaction.nlp import SpacyModel, load_spacy_model
from gateway.redaction.normalise import normalise, spacy_view
from gateway.redaction.presidio_env import prepare_presidio
from gateway.redaction.recognizers import PHONE_REGIONS, build_analyzer
from gateway.rubrics import RedactionOverrides

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    from gateway.config import RedactionSettings

#: Entity types redacted by default.
ENTITY_TYPES: Final[tuple[str, ...]] = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "ADDRESS",
    "DATE_OF_BIRTH",
    "LOCATION",
)

_WARM_UP_TEXT: Final = "Hi, I'm Jane Doe: jane@example.com, +1 415 555 2671, 10.0.0.1."


class PresidioRedactor:
    """Presidio analyzer + anonymizer over an injected spaCy model, built once and shared;
    ``redact`` is thread-safe.

    ``allow`` terms (whole words, any case) and ``allow_patterns`` (regular expressions), from
    the deployment and from a rubric's ``RedactionOverrides``, protect what they match: a finding
    that lies entirely inside a protected match is kept as written. One that only partly
    overlaps it is still redacted (privacy first).

    Raises ``ConfigError`` for an unknown entity type or an invalid allow pattern
    (``load_spacy_model`` raises ``ModelFileError`` when the spaCy model is not installed).
    """

    def __init__(
        self,
        nlp: SpacyModel,
        *,
        score_threshold: float = 0.5,
        allow: Sequence[str] = (),
        allow_patterns: Sequence[str] = (),
        entities: Sequence[str] = ENTITY_TYPES,
        phone_regions: Sequence[str] = PHONE_REGIONS,
        ner: bool = True,
    ) -> None:
        unknown = sorted(set(entities) - set(ENTITY_TYPES))
        if unknown:
            raise ConfigError(f"redaction: unknown entity types {unknown}; known: {ENTITY_TYPES}")
        self.score_threshold = score_threshold
        self.entities: tuple[str, ...] = tuple(entities)
        self._allow = compile_allow(allow, allow_patterns, where="redaction_allow_patterns")
        prepare_presidio()  # the model's loader did it too; this covers a model built otherwise
        self._nlp = nlp
        # ner=False: patterns only, for languages the English model misreads (language.py)
        self._analyzer = build_analyzer(self._nlp.engine, phone_regions, ner=ner)
        self._anonymizer, self._operators = _build_anonymizer(self.entities)
        self._override_lock = threading.Lock()
        self._override_cache: dict[RedactionOverrides, AllowList] = {}
        # The first call compiles patterns and parses tldextract's bundled suffix list: pay
        # for it here rather than in the first request.
        self.redact(_WARM_UP_TEXT)

    @classmethod
    def from_settings(
        cls, settings: RedactionSettings, nlp: SpacyModel | None = None, *, ner: bool = True
    ) -> PresidioRedactor:
        """The deployment's redactor; loads the spaCy model (seconds) when none is given."""
        return cls(
            nlp if nlp is not None else load_spacy_model(),
            score_threshold=settings.score_threshold,
            allow=settings.allow,
            allow_patterns=settings.allow_patterns,
            ner=ner,
        )

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        """The normalised text with each finding replaced by its placeholder."""
        normalised = normalise(text).text
        return self._replace(normalised, self._detect_normalised(normalised, overrides))

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        """``redact`` for each text, with spaCy run over them as one batch (for /classify/batch:
        about half the NER cost a text)."""
        normalised = [normalise(text).text for text in texts]
        todo = [i for i, text in enumerate(normalised) if text.strip()]
        with self._nlp.session():
            artifacts = self._nlp.engine.process_batch(
                [spacy_view(normalised[i]) for i in todo], "en", batch_size=64
            )
            found: dict[int, list[Finding]] = {
                i: self._detect(normalised[i], a, overrides)
                for i, (_, a) in zip(todo, artifacts, strict=True)
            }
        return [self._replace(text, found.get(i, [])) for i, text in enumerate(normalised)]

    def detect(self, text: str, overrides: RedactionOverrides | None = None) -> list[Finding]:
        """What ``redact`` replaces, non-overlapping and in text order, as spans of ``text``: a
        finding in the normalised text covers every character it came from (all of ``&#64;``)."""
        normalised = normalise(text)
        findings = self._detect_normalised(normalised.text, overrides)
        if not normalised.changed:
            return findings
        return [
            Finding(*normalised.source_span(f.start, f.end), f.entity_type, f.score)
            for f in findings
        ]

    def _detect_normalised(self, text: str, overrides: RedactionOverrides | None) -> list[Finding]:
        if not text.strip():
            return []
        with self._nlp.session():
            artifacts = self._nlp.engine.process_text(spacy_view(text), "en")
            return self._detect(text, artifacts, overrides)

    def _replace(self, text: str, findings: list[Finding]) -> RedactedText:
        if not findings:
            return RedactedText(text=text)
        from presidio_anonymizer.entities import RecognizerResult as Span

        result = self._anonymizer.anonymize(
            text=text,
            analyzer_results=[Span(f.entity_type, f.start, f.end, f.score) for f in findings],
            operators=self._operators,
        )
        counts = Counter(item.entity_type for item in result.items)
        return RedactedText(text=result.text, entities=dict(sorted(counts.items())))

    def _detect(
        self, text: str, artifacts: NlpArtifacts, overrides: RedactionOverrides | None
    ) -> list[Finding]:
        results = self._analyzer.analyze(
            text=text,
            language="en",
            entities=list(self.entities),
            nlp_artifacts=artifacts,
            score_threshold=self.score_threshold,
        )
        context = NameContext(
            dictionary=self._nlp.dictionary,
            not_names=[
                (e.start_char, e.end_char)
                for e in artifacts.tokens.ents
                if e.label_ in NOT_NAME_LABELS
            ],
        )
        findings = [f for r in results if (f := clean_result(text, r, context)) is not None]
        keep, allowed = protected_spans(text, self._allow, self._compiled_overrides(overrides))
        findings = [
            f
            for f in findings
            if not inside_any(f, allowed)
            and not (f.entity_type in HEURISTIC_TYPES and inside_any(f, keep))
        ]
        return merge_overlaps(findings)

    def _compiled_overrides(self, overrides: RedactionOverrides | None) -> AllowList | None:
        if overrides is None or not (overrides.allow or overrides.allow_patterns):
            return None
        with self._override_lock:
            compiled = self._override_cache.get(overrides)
            if compiled is None:
                compiled = compile_allow(
                    overrides.allow, overrides.allow_patterns, where="redaction.allow_patterns"
                )
                if len(self._override_cache) >= 256:  # one entry a rubric file; bound it anyway
                    self._override_cache.clear()
                self._override_cache[overrides] = compiled
            return compiled


def _build_anonymizer(
    entities: Sequence[str],
) -> tuple[AnonymizerEngine, dict[str, OperatorConfig]]:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    operators = {e: OperatorConfig("replace", {"new_value": f"<{e}>"}) for e in entities}
    return AnonymizerEngine(), operators  # type: ignore[no-untyped-call]  # untyped __init__

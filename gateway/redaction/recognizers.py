"""Our recognizer set and the Presidio analyzer over it.

The recognizers are chosen, not Presidio's defaults (which flag order ids and product names):
e-mail (validated offline), phone (libphonenumber, plus layouts next to a phone word), card,
IBAN, IP, US SSN, spaCy NER for people and places, and pattern recognizers for what Presidio
lacks: street addresses, dates of birth (after a birth cue) and names introduced by a cue
(the patterns are in ``patterns.py``). Presidio is imported only when an analyzer is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

from gateway.redaction.patterns import (
    ADDRESS_PATTERNS,
    DOB_PATTERNS,
    NAME_PATTERNS,
    PHONE_CONTEXT,
    PHONE_PATTERNS,
)

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

#: Regions whose national layouts ("(415) 555-0132", "020 7946 0018") libphonenumber checks; a
#: number written with its country code ("+48 22 123 45 67") is found whatever the region.
#: Each region is one more pass of its matcher (~0.2 ms a ticket), so the list is short.
PHONE_REGIONS: Final[tuple[str, ...]] = ("US", "GB", "IE", "IN", "AU", "DE", "FR")


def build_analyzer(nlp_engine: NlpEngine, phone_regions: Sequence[str]) -> AnalyzerEngine:
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
        patterns("PhoneLayoutRecognizer", "PHONE_NUMBER", PHONE_PATTERNS, PHONE_CONTEXT),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        patterns("CueNameRecognizer", "PERSON", NAME_PATTERNS, []),
        patterns("StreetAddressRecognizer", "ADDRESS", ADDRESS_PATTERNS, []),
        patterns("DateOfBirthRecognizer", "DATE_OF_BIRTH", DOB_PATTERNS, []),
    ]
    return AnalyzerEngine(
        registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=LemmaContextAwareEnhancer(),
    )

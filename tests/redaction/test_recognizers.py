"""What the recognizers find and what they leave alone, with real Presidio and spaCy.

One table a concern: every entity type (``CASES``), the strings routing needs (``KEEP``) and
names introduced by a cue (``CUES``); the thread-safety and batch checks run over all three.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.redaction import ENTITY_TYPES, PresidioRedactor, RedactedText
from gateway.rubrics import RedactionOverrides


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


def test_phone_numbers_next_to_each_other_are_each_found(redactor: PresidioRedactor) -> None:
    # libphonenumber's matcher reads the pair as one candidate and finds neither
    text = "Numbers: (212) 555-0187  0412 345 678 ."
    assert [text[f.start : f.end] for f in redactor.detect(text)] == [
        "(212) 555-0187",
        "0412 345 678",
    ]


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


# --------------------------------------------------------------------------- all tables


def test_shared_redactor_is_thread_safe(redactor: PresidioRedactor) -> None:
    texts = [text for _, text, _ in CASES] + [text for text, _ in KEEP] + [t for t, _ in CUES]
    expected = [redactor.redact(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(redactor.redact, texts * 4))
    assert got == expected * 4


def test_batch_matches_one_by_one(redactor: PresidioRedactor) -> None:
    texts = [text for _, text, _ in CASES] + ["", "  "] + [t for t, _ in CUES]
    overrides = RedactionOverrides(allow=("Lisbon",))
    assert redactor.redact_batch(texts) == [redactor.redact(t) for t in texts]
    assert redactor.redact_batch(texts, overrides) == [redactor.redact(t, overrides) for t in texts]
    assert redactor.redact_batch([]) == []

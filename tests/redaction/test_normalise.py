"""``normalise`` (what detection reads, and the map back to the original) and ``spacy_view``
(the copy spaCy reads): pure functions, no model needed."""

from __future__ import annotations

import random

import pytest

from gateway.redaction.normalise import normalise, spacy_view

# --------------------------------------------------------------------------- normalise

DECODED = [
    ("jane\u200b.doe@\u200bexample.com", "jane.doe@example.com"),  # zero-width space
    ("4111\u20601111\ufeff1111\u00ad1111", "4111111111111111"),  # word joiner, BOM, soft hyphen
    ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "jane@example.com"),  # fullwidth
    ("＋４４\u3000２０ ７９４６", "+44 20 7946"),  # ideographic space
    ("maria.rossi%40example.it", "maria.rossi@example.it"),
    ("phone=%2B1%20415%20555", "phone=+1 415 555"),
    ("sam&#64;example.org, k&#x40;example.cz, p&commat;example&period;in", None),
    ("ana&#8203;.silva@example.com", "ana.silva@example.com"),  # a reference to a ZWSP
    ("r.chen&#0064;exa\u200bmple.net", "r.chen@example.net"),
    ("(617)\u00a0253\u20111000, 415\u2013555\u20130132", "(617) 253-1000, 415-555-0132"),
    ("li.wei@example\u3002cn", "li.wei@example.cn"),
    ("4\ufe0f\u20e31\ufe0f\u20e3", "41"),  # keycap digits
    ("Cafe\u0301 \u2166", "Café VII"),  # composed; compatibility numeral
    ("您好，我叫王伟：１３８", "您好,我叫王伟:138"),
]


@pytest.mark.parametrize(("raw", "expected"), DECODED, ids=[r for r, _ in DECODED])
def test_obfuscations_are_undone(raw: str, expected: str | None) -> None:
    text = normalise(raw).text
    if expected is None:
        assert text == "sam@example.org, k@example.cz, p@example.in"
    else:
        assert text == expected


KEPT = [
    "The Dyson V15 I ordered on March 3 is still not shipped. Order 302-1234567-1234567.",
    "AT&T bills 20%AB more; R&D; 50%OFF",  # not references, not escapes
    "Pages 3 – 7, a dash – between words",  # en dash not between two digits
    "Emoji 👩\u200d💻 and \u0915\u094d\u200d\u0937 keep their joiners",
    "\ufdfa stays as written",  # NFKC would make 18 characters of it
    "",
]


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert normalise(text).text == text


def test_spans_map_back_to_every_character_they_came_from() -> None:
    raw = "Mail: ｊａｎｅ&#64;exa\u200bmple%2Ecom, then call."
    normalised = normalise(raw)
    start = normalised.text.index("jane@example.com")
    span = normalised.source_span(start, start + len("jane@example.com"))
    assert raw[slice(*span)] == "ｊａｎｅ&#64;exa\u200bmple%2Ecom"
    tail = normalised.text.index("then")
    assert raw[slice(*normalised.source_span(tail, tail + 4))] == "then"
    assert not normalise("plain").changed
    assert normalise("plain").source_span(1, 3) == (1, 3)


def test_source_spans_stay_in_order_and_in_bounds() -> None:
    rng = random.Random(11)
    alphabet = "ab1 @.%4&#;\u200b\u00adＡ１＠\u2013\u0301é王，"
    for _ in range(200):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        normalised = normalise(raw)
        last = 0
        for i in range(len(normalised.text)):
            start, end = normalised.source_span(i, i + 1)
            assert last <= start < end <= len(raw), (raw, i)
            last = start
        assert normalised.source_span(0, len(normalised.text))[1] <= len(raw)


# --------------------------------------------------------------------------- spacy_view


def test_spacy_view_keeps_length_and_ordinary_text() -> None:
    text = "Hi, I'm Jane Doe (jane@example.com)! Order #A-1029 is late... Thanks!!"
    assert spacy_view(text) == text
    rng = random.Random(5)
    for _ in range(50):
        raw = "".join(rng.choice("a!-. 😀1\n") for _ in range(rng.randint(0, 300)))
        assert len(spacy_view(raw)) == len(raw)


def test_spacy_view_blanks_symbol_runs_and_thins_long_runs() -> None:
    assert spacy_view("Great!!!! thanks") == "Great     thanks"
    assert spacy_view("😀" * 10).strip() == ""
    assert spacy_view("A-" * 100).strip() == ""
    long_run = "Name:JaneDoe;Phone:555-123-4567;Email:jane@example.com;City:Springfield"
    assert spacy_view(long_run).split()[:4] == ["Name", "JaneDoe", "Phone", "555"]
    assert all(len(word) < 64 for word in spacy_view("x" * 1000).split())

"""PII written to slip past detection (issue 11: zero-width and fullwidth characters, URL and
HTML escapes, spelled-out e-mails, lower-case IBANs, SSNs without separators, Chinese names and
numbers), with the real redactor: none of it, in any form, reaches what the gateway forwards.
The benchmark's ``obfuscated`` section measures the same on 56 tickets; these are its kinds."""

from __future__ import annotations

import html
import unicodedata
import urllib.parse

import pytest

from gateway.config import RedactionSettings
from gateway.redaction import PresidioRedactor, SpacyModel, build_redactor


def forms(value: str) -> set[str]:
    """The value as written and as a reader would decode it."""
    decoded = unicodedata.normalize("NFKC", urllib.parse.unquote(html.unescape(value)))
    return {value, "".join(c for c in decoded if unicodedata.category(c) != "Cf")}


OBFUSCATED = [
    ("PHONE_NUMBER", "Please call me on +44 20\u200b7946\u200b0958 after 5pm.", ["7946"]),
    ("EMAIL_ADDRESS", "My login is anna\u200b.kowalski@\u200bexample.com, reset fails.", ["anna"]),
    ("CREDIT_CARD", "Charge 4111\u20601111\u20601111\u20601111 for the renewal.", ["4111"]),
    ("IBAN_CODE", "IBAN DE89\u00ad3704\u00ad0044\u00ad0532\u00ad0130\u00ad00 please.", ["3704"]),
    ("EMAIL_ADDRESS", "Email ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ about the refund.", ["jane"]),
    ("PHONE_NUMBER", "Phone ＋４４ ７９１１ １２３４５６ (mobile), evenings only.", ["7911"]),
    ("US_SSN", "Social security number ４１２－６７－３３９０ is on file.", ["3390"]),
    ("EMAIL_ADDRESS", "The reset link was sent to maria.rossi%40example.it instead.", ["rossi"]),
    ("EMAIL_ADDRESS", "The form posted email=tom%2Ebaker%40example%2Eco%2Euk&plan=pro.", ["baker"]),
    ("EMAIL_ADDRESS", "Contact: sam.lee&#64;example.org for the invoice copy.", ["sam.lee"]),
    ("EMAIL_ADDRESS", "email: priya&commat;example&period;in (the old one bounced)", ["priya"]),
    ("EMAIL_ADDRESS", "You can reach me at jane dot doe at gmail dot com any time.", ["doe"]),
    ("EMAIL_ADDRESS", "my email is mike.oconnor [at] example [dot] org if needed", ["oconnor"]),
    ("EMAIL_ADDRESS", "Please write to ahmed(at)example(dot)com with the quote.", ["ahmed"]),
    ("EMAIL_ADDRESS", "send the invoice to lucas.martin @ example.fr thanks", ["lucas"]),
    ("IBAN_CODE", "refund to gb29 nwbk 6016 1331 9268 19 please, it's my account", ["nwbk"]),
    ("IBAN_CODE", "iban: nl91abna0417164300", ["abna"]),
    ("US_SSN", "My SSN is 536228741, please update the W-9.", ["536228741"]),
    ("US_SSN", "For verification, ss# 601182245. Order 88341201 failed.", ["601182245"]),
    ("PERSON", "您好，我叫王伟，订单一直没有发货。", ["王伟"]),
    ("PHONE_NUMBER", "您好，手机号码是13812345678，请尽快联系我。", ["13812345678"]),
    ("PHONE_NUMBER", "联系人：李娜，电话：+86 139 1234 5678，地址在上海。", ["1234 5678"]),
    ("PERSON", "请转告陈晓明先生，他明天再来。", ["陈晓明"]),
    ("PERSON", "Thanks for looking into the refund. Regards, 王芳", ["王芳"]),
    ("EMAIL_ADDRESS", "我的名字是刘洋，邮箱是liuyang88@163.com，谢谢。", ["liuyang88"]),
]


@pytest.mark.parametrize(
    ("kind", "text", "parts"), OBFUSCATED, ids=[f"{c[0]}-{i}" for i, c in enumerate(OBFUSCATED)]
)
def test_obfuscated_pii_is_redacted(
    redactor: PresidioRedactor, kind: str, text: str, parts: list[str]
) -> None:
    result = redactor.redact(text)
    assert result.entities.get(kind, 0) >= 1, (result.text, result.entities)
    for part in parts:
        for form in forms(part):
            assert form.casefold() not in result.text.casefold(), result.text
    assert "\u200b" not in result.text and "\u2060" not in result.text


def test_forwarded_text_is_the_normalised_text(redactor: PresidioRedactor) -> None:
    result = redactor.redact("Ｏｒｄｅｒ ORD-2291: mail sam&#64;example.org, 4\u200b1 items.")
    assert result.text == "Order ORD-2291: mail <EMAIL_ADDRESS>, 41 items."


def test_detect_maps_findings_back_to_the_original(redactor: PresidioRedactor) -> None:
    text = "Mail jane%40example.com or ｋｉｍ＠ｅｘａｍｐｌｅ．ｏｒｇ now."
    spans = [text[f.start : f.end] for f in redactor.detect(text)]
    assert spans == ["jane%40example.com", "ｋｉｍ＠ｅｘａｍｐｌｅ．ｏｒｇ"]


def test_memo_and_batch_forward_no_variant(spacy_model: SpacyModel) -> None:
    texts = [text for _, text, _ in OBFUSCATED]
    redactor = build_redactor(RedactionSettings(), spacy_model)
    for results in (redactor.redact_batch(texts), [redactor.redact(t) for t in texts]):
        for (_, _, parts), result in zip(OBFUSCATED, results, strict=True):
            assert not any(f.casefold() in result.text.casefold() for p in parts for f in forms(p))


LEFT_ALONE = [
    ("Look at this dot com bubble chart in the report.", "this dot com"),
    ("Our order 123456789 and customer id 555667777 fail at checkout.", "123456789"),
    ("Our order 123456789 and customer id 555667777 fail at checkout.", "555667777"),
    ("我是王者荣耀的玩家，升级到 3.2.1 版本后无法登录。", "王者荣耀"),
    ("我是新用户，订单 202403150001 还没到。", "202403150001"),
    ("Meet at 10.30 in the office, the dot matrix printer is jammed.", "dot matrix"),
    ("AT&T bills 20%AB more since the firmware ４.１２.０.３ update.", "4.12.0.3"),
    ("请转告陈晓明先生，他的手机是 159 8765 4321。", "他的手机是"),  # not a place
]


@pytest.mark.parametrize(("text", "keep"), LEFT_ALONE, ids=[k for _, k in LEFT_ALONE])
def test_look_alikes_are_kept(redactor: PresidioRedactor, text: str, keep: str) -> None:
    result = redactor.redact(text)
    assert keep in result.text, result.text

"""MemoizedRedactor over a fake inner Redactor: repeats skip the inner one, rubric overrides
stay apart, and the memo holds neither ticket text nor a plain hash of one."""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.redaction import BatchRedactor, MemoizedRedactor, RedactedText
from gateway.rubrics import RedactionOverrides


class _CountingRedactor(BatchRedactor):
    """A Redactor that masks digits and records every text it was asked to redact."""

    def __init__(self) -> None:
        self.seen: list[str] = []

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

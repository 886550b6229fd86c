"""What the process needs in place before Presidio is first imported or used.

``prepare_presidio`` keeps tldextract offline and Presidio's logs free of ticket text. It is
idempotent; the spaCy model loader and ``PresidioRedactor`` both call it.
"""

from __future__ import annotations

import logging
import os


class _WithholdText(logging.Filter):
    """Presidio logs what it analyses: context words at DEBUG, an IBAN it could not validate
    at ERROR. Let through warnings and errors only, without their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        if record.args:
            record.msg, record.args = f"{record.msg} (arguments withheld)", ()
        return True


def _withhold_presidio_log_text() -> None:
    for name in ("presidio-analyzer", "presidio-anonymizer", "decision_process"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _WithholdText) for f in logger.filters):
            logger.addFilter(_WithholdText())


def prepare_presidio() -> None:
    # tldextract (imported with Presidio) builds a module-level extractor that, unless this
    # is set first, fetches the public-suffix list over the network on first use, and hangs
    # where there is none. Ours uses its own offline extractor; this covers the shared one.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    _withhold_presidio_log_text()

"""The shipped detector, on tickets written for this project (``evals/language``): the right
language on German, French and Spanish support text, no network, and its edges."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from support.wire_server import guard_network

from gateway.config import PROJECT_ROOT
from gateway.language import FastTextDetector, NullDetector

TICKETS = [
    json.loads(line)
    for line in (PROJECT_ROOT / "evals" / "language" / "tickets.jsonl").read_text().splitlines()
    if line.strip()
]


@pytest.fixture(scope="module")
def detector() -> FastTextDetector:
    return FastTextDetector()


def test_loads_and_detects_with_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    refused = guard_network(monkeypatch)
    found = FastTextDetector().detect("Guten Tag, meine Rechnung ist falsch.")
    assert found is not None and found.code == "de"
    assert refused == []  # the bundled model only: nothing tried to fetch the large one


@pytest.mark.parametrize("lang", ["de", "fr", "es", "en"])
def test_most_written_tickets_get_their_language(detector: FastTextDetector, lang: str) -> None:
    rows = [r for r in TICKETS if r["lang"] == lang]
    found = Counter(getattr(detector.detect(r["text"]), "code", None) for r in rows)
    assert found[lang] / len(rows) >= 0.9, found  # measured: de 1.00, fr 0.96, es 0.96, en 1.00


def test_a_sentence_is_detected_with_confidence(detector: FastTextDetector) -> None:
    found = detector.detect(
        "Hola, no puedo iniciar sesión en mi cuenta, la contraseña no funciona."
    )
    assert found is not None
    assert (found.code, found.confidence >= 0.9) == ("es", True)


def test_no_letters_no_language(detector: FastTextDetector) -> None:
    assert detector.detect("12345 -- 678 !!!") is None
    assert NullDetector().detect("Guten Tag") is None


def test_a_long_ticket_is_read_from_its_start(detector: FastTextDetector) -> None:
    text = "Ich habe eine Frage zu meiner Rechnung.\n" + "x " * 50_000
    found = detector.detect(text)
    assert found is not None and found.code == "de"

"""No personal data leaves the gateway: tickets full of PII go through /classify with the LLM
scorer pointed at the local OpenAI-wire server, which records what it was sent. None of the PII
values may appear there, in the result cache's files, in the logs or in the responses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.wire_server import WireServer

from gateway.config import PROJECT_ROOT

TICKETS = [
    json.loads(line)
    for line in (PROJECT_ROOT / "evals" / "pii" / "heldout.jsonl").read_text().splitlines()
]
VALUES = sorted({pii["value"] for t in TICKETS for pii in t["pii"]})


def _leaks(haystack: str) -> list[str]:
    return [value for value in VALUES if value in haystack]


def test_no_pii_reaches_the_provider_cache_logs_or_response(
    llm_client: TestClient, wire: WireServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = [t["text"] for t in TICKETS]
    with caplog.at_level(logging.DEBUG):
        single = llm_client.post("/classify", json={"text": texts[0]})
        batch = llm_client.post("/classify/batch", json={"items": [{"text": t} for t in texts]})
        again = llm_client.post("/classify", json={"text": texts[0]})  # from the cache
    assert single.status_code == batch.status_code == again.status_code == 200
    assert batch.json()["failed"] == 0
    assert again.json()["cached"] is True

    # The provider was asked about every ticket, and saw placeholders, not values.
    sent = "\n".join(r.text() for r in wire.requests)
    assert len(wire.requests) == len(texts)
    assert "<PERSON>" in sent and "<IBAN_CODE>" in sent and "<ADDRESS>" in sent
    assert _leaks(sent) == []
    assert _leaks(json.dumps([r.body for r in wire.requests], ensure_ascii=False)) == []

    # The cache holds results for them, and nothing of the text (sqlite pages and value files).
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    stored = b"".join(p.read_bytes() for p in files)
    assert len(stored) > 0
    assert [v for v in VALUES if v.encode() in stored] == []

    logged = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records
    assert _leaks(logged) == []

    answered = single.text + batch.text + again.text
    assert _leaks(answered) == []
    counts = batch.json()["results"][3]["result"]["redactions"]
    assert counts == {"IBAN_CODE": 1, "PERSON": 1}  # counts per type, never values

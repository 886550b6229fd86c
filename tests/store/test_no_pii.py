"""No raw PII in any stored row: PII-laden tickets redacted by the real redactor (Presidio, the
real spaCy model), recorded, labelled and fed back; then every column of every table is read."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text
from support.store import observation

from gateway.config import PROJECT_ROOT
from gateway.redaction import PresidioRedactor, SpacyModel
from gateway.store import Store

TICKETS = [
    json.loads(line)
    for line in (PROJECT_ROOT / "evals" / "pii" / "heldout.jsonl").read_text().splitlines()
]
VALUES = sorted({pii["value"] for t in TICKETS for pii in t["pii"]})


@pytest.fixture(scope="module")
def redacted(spacy_model: SpacyModel) -> list[str]:
    redactor = PresidioRedactor(spacy_model)
    return [r.text for r in redactor.redact_batch([t["text"] for t in TICKETS])]


def test_no_raw_pii_in_any_stored_row(store: Store, redacted: list[str]) -> None:
    assert len(VALUES) > 10
    ids = store.record(
        [
            observation(text=text_, request_id=f"req-{i}", external_id="case-1")
            for i, text_ in enumerate(redacted)
        ]
    )
    for item in store.claim(reviewer="ana", limit=5, lease_s=60):
        store.label(item.id, axis="category", label="billing", who="ana", source="review")
    store.skip(ids[-1], reviewer="bo")
    store.feedback(
        request_id=None,
        external_id="case-1",
        rubric="support",
        axis=None,
        label="account",
        who="zendesk",
        source="helpdesk",
    )

    with store.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        assert {"items", "item_axes", "labels", "models"} <= set(tables)
        rows = [
            str(tuple(row)) for t in tables for row in conn.execute(text(f'SELECT * FROM "{t}"'))
        ]
    stored = "\n".join(rows)
    assert len(rows) >= len(TICKETS)
    assert [v for v in VALUES if v in stored] == []
    assert "<PERSON>" in stored and "<IBAN_CODE>" in stored  # the placeholders are what is kept

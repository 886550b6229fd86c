"""The review and feedback API on a real app: real model, real Presidio, a real SQLite store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.settings import override

from gateway.config import PROJECT_ROOT, Settings
from gateway.redaction import SpacyModel
from gateway.scoring import LocalScorer
from gateway.server import create_app
from gateway.server.security import hash_key
from gateway.server.state import AppState

CLASSIFY, REVIEWER, EXPORTER, FEEDBACK = "k-classify", "k-reviewer", "k-export", "k-feedback"
PII_TICKETS = [
    json.loads(line)
    for line in (PROJECT_ROOT / "evals" / "pii" / "heldout.jsonl").read_text().splitlines()
][:12]


def _keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    path.write_text(
        f"{hash_key(CLASSIFY)}\n"
        f"{hash_key(REVIEWER)} roles=reviewer\n"
        f"{hash_key(EXPORTER)} roles=export\n"
        f"{hash_key(FEEDBACK)} support roles=feedback\n"
    )
    return path


@pytest.fixture
def review_client(
    settings: Settings, tmp_path: Path, local_scorer: LocalScorer, spacy_model: SpacyModel
) -> Iterator[TestClient]:
    keyed = override(
        settings,
        access={"api_keys_file": _keys_file(tmp_path)},
        # every decision keeps its text and is queued, so the test does not depend on where
        # the model's confidence lands; no random audit picks: the order checked is the margins'
        store={
            "data_dir": tmp_path / "data",
            "text_for": "all",
            "queue_for": "all",
            "explore": 0.0,
        },
    )
    app = create_app(keyed, wait=True, local=local_scorer, nlp=spacy_model)
    with TestClient(app) as client:
        yield client


def _as(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def _classify(client: TestClient, text: str, **metadata: str) -> tuple[str, dict[str, object]]:
    r = client.post(
        "/classify",
        json={"text": text, "rubric": "support", "metadata": metadata},
        headers=_as(CLASSIFY),
    )
    assert r.status_code == 200, r.text
    return r.headers["x-request-id"], r.json()


def _flush(client: TestClient) -> None:
    state: AppState = client.app.state.gateway  # type: ignore[attr-defined]
    assert state.recorder is not None and state.recorder.flush()


def test_plain_classify_key_cannot_read_the_queue_or_export(review_client: TestClient) -> None:
    for path in ("/review/queue", "/labels/export"):
        r = review_client.get(path, headers=_as(CLASSIFY))
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "forbidden"
    r = review_client.post(
        "/feedback", json={"request_id": "x", "label": "billing"}, headers=_as(CLASSIFY)
    )
    assert r.status_code == 403


def test_queue_label_feedback_export_end_to_end(review_client: TestClient) -> None:
    rid, first = _classify(review_client, "I was charged twice this month, please refund me.")
    _classify(review_client, "The app crashes every time I open settings.", ticket_id="T-42")
    _flush(review_client)

    queue = review_client.get(
        "/review/queue?rubric=support&limit=5&reviewer=ana", headers=_as(REVIEWER)
    )
    assert queue.status_code == 200, queue.text
    body = queue.json()
    assert body["open"] == 2 and len(body["items"]) == 2
    margins = [max(i["scores"].values()) - sorted(i["scores"].values())[-2] for i in body["items"]]
    assert margins == sorted(margins)  # most informative (smallest margin) first
    item = next(i for i in body["items"] if "charged" in i["text"])
    assert item["predicted"] == first["top_label"] and "billing" in item["labels"]

    # a label the rubric does not have is reported, not kept
    r = review_client.post(
        f"/review/{item['id']}/label", json={"label": "refunds-ish"}, headers=_as(REVIEWER)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "label_unknown"
    assert "billing" in r.json()["error"]["message"]
    r = review_client.post(
        f"/review/{item['id']}/label",
        json={"label": "billing", "reviewer": "ana"},
        headers=_as(REVIEWER),
    )
    assert r.status_code == 200, r.text
    assert r.json()["label"]["who"].endswith("/ana") and r.json()["predicted"] == first["top_label"]
    again = review_client.get(
        "/review/queue?rubric=support&reviewer=ana", headers=_as(REVIEWER)
    ).json()
    assert [i["id"] for i in again["items"]] != [] and item["id"] not in [
        i["id"] for i in again["items"]
    ]

    # feedback by request id: created once, idempotent after; by external id; unknown: 404
    fb = {"request_id": rid, "label": "billing", "who": "zendesk-agent-7"}
    r1 = review_client.post("/feedback", json=fb, headers=_as(FEEDBACK))
    r2 = review_client.post("/feedback", json=fb, headers=_as(FEEDBACK))
    assert (r1.status_code, r1.json()["created"]) == (201, True)
    assert (r2.status_code, r2.json()["created"]) == (200, False)
    assert r1.json()["label"]["id"] == r2.json()["label"]["id"]
    r = review_client.post(
        "/feedback", json={"external_id": "T-42", "label": "technical"}, headers=_as(FEEDBACK)
    )
    assert r.status_code == 201, r.text
    r = review_client.post(
        "/feedback",
        json={"request_id": "no-such-request", "label": "billing"},
        headers=_as(FEEDBACK),
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "item_not_found"
    r = review_client.post(
        "/feedback",
        json={"request_id": rid, "external_id": "T-42", "label": "billing"},
        headers=_as(FEEDBACK),
    )
    assert r.status_code == 422

    export = review_client.get("/labels/export?rubric=support", headers=_as(EXPORTER))
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in export.text.splitlines()]
    assert {(r["label"], r["source"]) for r in rows} == {
        ("billing", "feedback"),
        ("technical", "feedback"),
    }  # the newest label per ticket: feedback came after the review label
    assert all(r["text"] and r["predicted"] for r in rows)


def test_two_reviewers_never_get_the_same_ticket(review_client: TestClient) -> None:
    for i in range(6):
        _classify(review_client, f"My order number {1000 + i} has not arrived yet.")
    _flush(review_client)
    a = review_client.get("/review/queue?limit=3&reviewer=ana", headers=_as(REVIEWER)).json()
    b = review_client.get("/review/queue?limit=3&reviewer=bo", headers=_as(REVIEWER)).json()
    ids_a, ids_b = {i["id"] for i in a["items"]}, {i["id"] for i in b["items"]}
    assert len(ids_a) == len(ids_b) == 3 and not ids_a & ids_b
    # ana asking again gets her own items back; bo cannot label one of hers
    assert {
        i["id"]
        for i in review_client.get(
            "/review/queue?limit=3&reviewer=ana", headers=_as(REVIEWER)
        ).json()["items"]
    } == ids_a
    r = review_client.post(
        f"/review/{min(ids_a)}/label",
        json={"label": "shipping", "reviewer": "bo"},
        headers=_as(REVIEWER),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "lease_held"
    r = review_client.post(
        f"/review/{min(ids_a)}/skip", json={"reviewer": "ana"}, headers=_as(REVIEWER)
    )
    assert r.status_code == 204
    assert review_client.post("/review/999999/skip", headers=_as(REVIEWER)).status_code == 404


def test_no_raw_pii_reaches_the_store(review_client: TestClient, tmp_path: Path) -> None:
    for ticket in PII_TICKETS:
        _classify(review_client, ticket["text"], ticket_id="case-1")
    _flush(review_client)
    # read the SQLite file itself: every column of every row of every table
    with sqlite3.connect(tmp_path / "data" / "gateway.db") as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        rows = [str(row) for t in tables for row in db.execute(f'select * from "{t}"')]
    assert len(rows) >= len(PII_TICKETS)
    text = "\n".join(rows)
    values = [pii["value"] for t in PII_TICKETS for pii in t["pii"]]
    assert values and [v for v in values if v in text] == []
    assert "<" in text  # the redacted placeholders are what is stored

"""Issue 11 regressions at the HTTP edge: inputs JSON can carry, limits on all a request
carries, the error contract, inline labels and /metrics."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from support.wire_server import WireServer

JSON = {"content-type": "application/json"}


def post(
    client: TestClient, raw: bytes, path: str = "/classify"
) -> tuple[int, dict[str, object], str | None]:
    r = client.post(path, content=raw, headers=JSON)
    return r.status_code, r.json(), r.headers.get("x-request-id")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "\\ud800 my card was charged"}',
        b'{"text": "charged twice", "metadata": {"a": "\\udfff"}}',
        b'{"text": "charged twice", "metadata": {"\\udc00": "x"}}',
        b'{"text": "x", "labels": [{"name": "a", "rubric": "q\\ud83d"}, {"name": "b", "rubric": "r"}]}',
    ],
)
def test_a_lone_surrogate_anywhere_is_a_422_not_a_500(client: TestClient, raw: bytes) -> None:
    status, body, request_id = post(client, raw)
    assert status == 422
    assert body["error"]["code"] == "invalid_request"  # type: ignore[index]
    assert "lone UTF-16 surrogate" in body["error"]["message"]  # type: ignore[index]
    assert request_id is not None


def test_a_lone_surrogate_is_one_batch_items_error(client: TestClient) -> None:
    raw = b'{"items": [{"text": "\\ud800"}, {"text": "I was charged twice"}]}'
    status, body, _ = post(client, raw, "/classify/batch")
    assert status == 200
    assert (body["ok"], body["failed"]) == (1, 1)
    first, second = body["results"]  # type: ignore[misc]
    assert first["error"]["code"] == "invalid_request" and second["result"]["top_label"]


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser goes
        b'{"text": "\xff\xfe not utf-8"}',
        b'{"text": "ok", "axes": ' + b"1" * 5_000 + b"}",  # over Python's 4,300 digits
        b'{"text": "ok"',
    ],
)
def test_unreadable_json_is_invalid_json(client: TestClient, raw: bytes) -> None:
    status, body, request_id = post(client, raw)
    assert (status, body["error"]["code"]) == (400, "invalid_json")  # type: ignore[index]
    assert request_id is not None


def test_a_405_names_the_allowed_methods(client: TestClient) -> None:
    r = client.get("/classify")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ({"metadata": {f"k{i}": "v" for i in range(33)}}, "invalid_request", "33 entries"),
        ({"metadata": {"k": "v" * 1001}}, "invalid_request", "at most 1000 chars"),
        ({"rubric": "r" * 201}, "invalid_request", "rubric"),
        ({"axes": ["a"] * 65}, "invalid_request", "axes"),
        (
            {
                "labels": [
                    {"name": "a", "rubric": "q", "examples": ["e"] * 9},
                    {"name": "b", "rubric": "r"},
                ]
            },
            "labels_invalid",
            "9 examples; at most 8",
        ),
        (
            {
                "labels": [
                    {"name": "a", "rubric": "q", "examples": ["e" * 1001]},
                    {"name": "b", "rubric": "r"},
                ]
            },
            "labels_invalid",
            "labels[0].examples is longer than 1000",
        ),
    ],
)
def test_everything_a_request_carries_is_bounded(
    client: TestClient, extra: dict[str, object], code: str, message: str
) -> None:
    r = client.post("/classify", json={"text": "I was charged twice", **extra})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert message in r.json()["error"]["message"]


def test_inline_label_names_never_become_metric_labels(client: TestClient) -> None:
    secret = "jane.doe@example.com"
    labels = [
        {"name": secret, "rubric": "Is it about a charge?"},
        {"name": "other", "rubric": "Else?"},
    ]
    r = client.post("/classify", json={"text": "I was charged twice", "labels": labels})
    assert r.status_code == 200 and r.json()["top_label"] in (secret, "other")
    metrics = client.get("/metrics").text
    assert secret not in metrics
    assert (
        'gateway_predicted_labels_total{axis="category",label="inline",rubric="inline"}' in metrics
    )


def test_inline_label_text_is_redacted_before_the_provider(
    llm_client: TestClient, wire: WireServer
) -> None:
    labels = [
        {
            "name": "vip",
            "rubric": "Is this from Jane Doe (jane.doe@example.com)?",
            "examples": ["call me on +1 415 555 2671"],
        },
        {"name": "other", "rubric": "Anything else?"},
    ]
    r = llm_client.post("/classify", json={"text": "I was charged twice", "labels": labels})
    assert r.status_code == 200, r.text
    assert r.json()["top_label"] in ("vip", "other")  # names are the answer: kept
    sent = json.dumps([req.body for req in wire.requests], ensure_ascii=False)
    assert wire.requests
    for value in ("jane.doe@example.com", "415 555 2671", "Jane Doe"):
        assert value not in sent
    assert "<EMAIL_ADDRESS>" in sent

"""/metrics, request ids, structured JSON logs, and no ticket text in any log line."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from gateway.server.telemetry import JsonFormatter, request_id_var

TICKET = "I was charged twice this month. Order #12345."


def _value(text: str, name: str, **labels: str) -> float:
    """One sample from the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_stages_cache_labels_decisions(client: TestClient) -> None:
    before = client.get("/metrics").text
    for _ in range(2):
        assert (
            client.post("/classify", json={"text": TICKET, "rubric": "support"}).status_code == 200
        )
    client.post("/classify", json={"text": ""})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = r.text

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("gateway_requests_total", route="/classify", status="200") == 2
    assert delta("gateway_requests_total", route="/classify", status="422") == 1
    for stage in ("redact", "score", "total"):
        assert delta("gateway_stage_seconds_count", stage=stage) >= 1, stage
    assert delta("gateway_stage_seconds_count", stage="score") == 1  # the 2nd was a cache hit
    assert delta("gateway_cache_total", result="hit") == 1
    assert delta("gateway_cache_total", result="miss") == 1
    assert (
        delta("gateway_predicted_labels_total", rubric="support", axis="category", label="billing")
        == 2
    )
    assert (
        sum(
            delta("gateway_decisions_total", rubric="support", decision=d)
            for d in ("auto_route", "review", "manual", "escalate")
        )
        == 2
    )
    # Defined now, 0 until the LLM scorer reports through them.
    for name in (
        "gateway_provider_calls",
        "gateway_provider_retries",
        "gateway_provider_fallbacks",
        "gateway_provider_cost_usd",
    ):
        assert f"# TYPE {name}_total counter" in after


def test_request_id_generated_and_echoed(client: TestClient) -> None:
    r = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = client.post("/classify", json={"text": TICKET}, headers={"x-request-id": "abc-123.X_y"})
    assert r.headers["x-request-id"] == "abc-123.X_y"
    unsafe = "bad id\\n{injected}"
    r = client.get("/healthz", headers={"x-request-id": unsafe})
    assert r.headers["x-request-id"] != unsafe
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = client.post("/classify", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "x-request-id" in r.headers


def test_access_log_is_one_json_object(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    client.post("/classify", json={"text": TICKET}, headers={"x-request-id": "req-42"})
    lines = [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    access = [line for line in lines if line["logger"] == "gateway.access"]
    assert access, lines
    entry = access[-1]
    assert {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "route",
        "status",
        "latency_ms",
    } <= set(entry)
    assert (entry["request_id"], entry["route"], entry["status"]) == ("req-42", "/classify", 200)


def test_formatter_emits_only_known_fields() -> None:
    record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1, "hello %s", ("w",), None)
    record.text = "ticket body"  # an extra= that is not allowed through
    token = request_id_var.set("rid-1")
    try:
        out = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert out["message"] == "hello w" and out["request_id"] == "rid-1"
    assert "ticket body" not in json.dumps(out)


def test_ticket_text_never_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    marker = "ZQX-MARKER-7f3a9c"
    with caplog.at_level(logging.DEBUG):
        client.post("/classify", json={"text": f"my card was charged twice {marker}"})
        client.post("/classify", json={"text": f"{marker} " * 5000})  # over max_text_chars
        client.post("/classify", json={"text": marker, "rubric": "no-such-rubric"})
        client.post("/classify", json={"text": marker, "axes": ["nope"]})
        client.post("/classify/batch", json={"items": [{"text": marker}, {"txt": marker}]})
        client.post(
            "/classify",
            content=f'{{"text": "{marker}"'.encode(),
            headers={"content-type": "application/json"},
        )
    captured = capfd.readouterr()
    assert caplog.records  # the access log did run
    assert marker not in caplog.text
    assert marker not in captured.err and marker not in captured.out
    assert marker not in client.get("/metrics").text

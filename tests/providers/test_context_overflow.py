"""A prompt and ticket too long for the model's context window is the caller's input: 413
``context_too_long`` (issue 17, item 8), not a 502; not retried, not sent to a fallback, not
answered locally. The local OpenAI-wire server answers as OpenAI and llama.cpp do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from support.settings import make_settings
from support.wire_server import Body, Reply, WireServer, error, schema_filler, wire_client

from gateway.config import PROJECT_ROOT, RetryPolicy
from gateway.errors import ContextTooLongError, RequestError
from gateway.providers import ChatMessage
from gateway.server import create_app

SECRET = "Jane Doe's card 4111 was charged twice"
OPENAI = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."


def llama_cpp() -> Reply:
    """llama-server's answer to a prompt over its context size (HTTP 400)."""
    body = {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size, try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 9000,
            "n_ctx": 4096,
        }
    }
    return Reply(status=400, body=body)


class Answer(BaseModel):
    label: str


@pytest.mark.parametrize("reply", [error(400, OPENAI), llama_cpp()], ids=["openai", "llama.cpp"])
async def test_context_overflow_is_the_callers_413(wire: WireServer, reply: Reply) -> None:
    wire.script(reply, *[schema_filler] * 5)
    provider = wire_client(
        wire, retry=RetryPolicy(max_retries=3), fallback_models=("openai/backup-model",)
    )
    messages = (ChatMessage(role="user", content=SECRET),)
    with pytest.raises(ContextTooLongError) as caught:
        await provider.structured(messages, Answer, max_reasks=2)
    exc = caught.value
    assert isinstance(exc, RequestError)
    assert (exc.status, exc.code) == (413, "context_too_long")
    assert "context window" in exc.message and "openai/test-model" in exc.message
    assert SECRET not in exc.message
    assert len(wire.requests) == 1  # no retry, no re-ask, no fallback model


def _too_long_for(marker: str) -> Any:
    def server(body: Body) -> Reply:
        if any(marker in str(m.get("content")) for m in body.get("messages", [])):
            return error(400, OPENAI)
        return schema_filler(body)

    return server


def test_the_api_answers_413_and_a_batch_keeps_it_in_the_tickets_slot(
    tmp_path: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = _too_long_for("LONG")
    settings = make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        provider={"model": "openai/test-model", "api_base": wire.url, "retry": RetryPolicy()},
        redaction={"enabled": False},
        # a local answer would hide that the ticket cannot be read by the configured model
        scoring={"scorer": "llm", "fallback_to_local": True},
        store={"enabled": False},
    )
    with TestClient(create_app(settings, wait=True)) as client:
        resp = client.post("/classify", json={"text": "LONG ticket " + "x" * 100})
        assert resp.status_code == 413
        assert resp.json()["error"]["code"] == "context_too_long"
        batch = client.post(
            "/classify/batch",
            json={"items": [{"text": "short ticket"}, {"text": "LONG ticket"}]},
        ).json()
        assert batch["ok"] == 1 and batch["failed"] == 1
        assert batch["results"][0]["result"]["fallback"] is False
        assert batch["results"][1]["error"]["code"] == "context_too_long"
        openapi_413 = client.app.openapi()["paths"]["/classify"]["post"]["responses"]  # type: ignore[attr-defined]
        assert "413" in openapi_413  # documented on the route

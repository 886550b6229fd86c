"""ProviderClient against a real HTTP server speaking the OpenAI wire format (no key, no internet)."""

from __future__ import annotations

import email.utils
import json
import os
import time
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from support.wire_server import (
    Reply,
    WireServer,
    error,
    json_reply,
    logprobs_reply,
    schema_filler,
    text,
    wire_client,
)

from gateway.config import RetryPolicy
from gateway.errors import ProviderError, ProviderUnavailableError
from gateway.providers import (
    ChatMessage,
    ProviderClient,
    is_transient,
    retry_after_s,
)

SECRET = "Jane Doe's card 4111 was charged twice"  # must never show up in an error message
MESSAGES = (
    ChatMessage(role="system", content="Classify the ticket."),
    ChatMessage(role="user", content=SECRET),
)
FAST = RetryPolicy(max_retries=3, backoff_initial_s=0.001, backoff_max_s=0.005)


class Answer(BaseModel):
    label: str
    p: float


GOOD = {"label": "billing", "p": 0.9}


def client(wire: WireServer, **overrides: Any) -> ProviderClient:
    return wire_client(wire, **{"retry": FAST, **overrides})


async def ask(provider: ProviderClient, max_reasks: int = 0) -> Any:
    return await provider.structured(MESSAGES, Answer, max_reasks=max_reasks)


def test_litellm_uses_its_bundled_cost_map(
    wire: WireServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import litellm

    client(wire)  # start-up: building the client configures litellm
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"  # set by `import gateway`
    assert "gpt-4o-mini" in litellm.model_cost  # the bundled table, read without the network
    assert litellm.suppress_debug_info is True
    assert "LITELLM_LOCAL_MODEL_COST_MAP" not in caplog.text
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "False")
    client(wire)
    assert "LITELLM_LOCAL_MODEL_COST_MAP is not True" in caplog.text


async def test_request_on_the_wire(wire: WireServer) -> None:
    wire.script(json_reply(GOOD))
    result = await ask(client(wire))
    assert result.value.model_dump() == GOOD
    (request,) = wire.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.body
    assert body["model"] == "test-model"
    assert body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert SECRET in request.text()
    assert result.model == "openai/test-model"
    assert result.usage.prompt_tokens == 11
    assert result.usage.completion_tokens == 7
    assert result.usage.cost_usd == 0.0  # not in litellm's price table


async def test_json_schema_mode_sends_the_schema_as_response_format(wire: WireServer) -> None:
    wire.responder = schema_filler  # answers from the schema wherever the mode put it
    result = await ask(client(wire, structured_mode="json_schema"))
    assert isinstance(result.value, Answer)
    response_format = wire.requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"label", "p"}


async def test_cost_from_litellms_table_for_a_known_model(wire: WireServer) -> None:
    wire.script(json_reply(GOOD, prompt_tokens=1000, completion_tokens=100))
    result = await ask(client(wire, model="openai/gpt-4o-mini"))
    assert result.usage.cost_usd > 0
    assert wire.requests[0].body["model"] == "gpt-4o-mini"


async def test_429_then_200_is_retried_honouring_retry_after(wire: WireServer) -> None:
    wire.script(error(429, headers={"retry-after": "0.3"}), json_reply(GOOD))
    started = time.monotonic()
    result = await ask(client(wire))
    assert time.monotonic() - started >= 0.3  # backoff alone would be ~1 ms
    assert result.value.label == "billing"
    assert len(wire.requests) == 2
    assert result.calls == 1


async def test_500s_fall_back_to_the_next_model(wire: WireServer) -> None:
    wire.script(*[error(500)] * 4, json_reply(GOOD))
    provider = client(wire, fallback_models=("openai/backup-model",))
    result = await ask(provider)
    models = [r.model for r in wire.requests]
    assert models == ["test-model"] * 4 + ["backup-model"]  # 1 try + 3 retries, then fallback
    assert result.model == "openai/backup-model"


class Recorder:
    """A ProviderObserver that records events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def call(self, model: str, outcome: str) -> None:
        self.events.append(("call", model, outcome))

    def retry(self, model: str) -> None:
        self.events.append(("retry", model))

    def fallback(self, from_model: str, to_model: str) -> None:
        self.events.append(("fallback", from_model, to_model))

    def local_fallback(self, tickets: int) -> None:
        self.events.append(("local_fallback", str(tickets)))

    def invalid_output(self, model: str) -> None:
        self.events.append(("invalid_output", model))

    def cost(self, model: str, usd: float) -> None:
        self.events.append(("cost", model))

    def structured(self, model: str, mode: str, valid: bool) -> None:
        self.events.append(("structured", model, mode, "valid" if valid else "invalid"))


async def test_observer_sees_calls_retries_fallbacks_and_cost(wire: WireServer) -> None:
    wire.script(error(500), error(500), json_reply(GOOD))
    recorder = Recorder()
    config = client(
        wire,
        model="openai/gpt-4o-mini",
        fallback_models=("openai/gpt-4o",),
        retry=RetryPolicy(max_retries=1, backoff_initial_s=0.001, backoff_max_s=0.002),
    ).config
    await ask(ProviderClient(config, recorder))
    assert recorder.events == [
        ("call", "openai/gpt-4o-mini", "error"),
        ("retry", "openai/gpt-4o-mini"),
        ("call", "openai/gpt-4o-mini", "error"),
        ("fallback", "openai/gpt-4o-mini", "openai/gpt-4o"),
        ("call", "openai/gpt-4o", "ok"),
        ("cost", "openai/gpt-4o"),
        # asked for in the primary's mode: litellm's table says gpt-4o-mini has native schemas
        ("structured", "openai/gpt-4o", "json_schema", "valid"),
    ]


async def test_observer_counts_invalid_output_through_instructors_hook(wire: WireServer) -> None:
    wire.script(*[error(500)] * 2, text("{broken"), text("no json"), json_reply(GOOD))
    recorder = Recorder()
    config = client(
        wire,
        fallback_models=("openai/backup-model",),
        retry=RetryPolicy(max_retries=1, backoff_initial_s=0.001, backoff_max_s=0.002),
    ).config
    result = await ProviderClient(config, recorder).structured(MESSAGES, Answer, max_reasks=2)
    assert result.value.model_dump() == GOOD
    # each invalid reply is counted once, against the model that gave it (the fallback here)
    answered = ("call", "openai/backup-model", "ok")
    invalid = ("invalid_output", "openai/backup-model")
    json_mode = ("structured", "openai/backup-model", "json")
    assert recorder.events == [
        ("call", "openai/test-model", "error"),
        ("retry", "openai/test-model"),
        ("call", "openai/test-model", "error"),
        ("fallback", "openai/test-model", "openai/backup-model"),
        *(answered, invalid, (*json_mode, "invalid")) * 2,
        answered,
        (*json_mode, "valid"),
    ]


async def test_all_models_down_is_provider_unavailable(wire: WireServer) -> None:
    wire.script(*[error(503)] * 8)
    provider = client(wire, fallback_models=("openai/backup-model",))
    with pytest.raises(ProviderUnavailableError) as caught:
        await ask(provider)
    assert (caught.value.status, caught.value.code) == (503, "provider_unavailable")
    assert "backup-model" in caught.value.message
    assert SECRET not in caught.value.message
    assert len(wire.requests) == 8


async def test_hanging_server_respects_the_deadline(wire: WireServer) -> None:
    wire.script(Reply(body={}, delay_s=5.0))
    provider = client(wire, deadline_s=0.4, fallback_models=("openai/backup-model",))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError, match="deadline"):
        await ask(provider)
    assert time.monotonic() - started < 1.5
    assert len(wire.requests) == 1  # no retry or fallback once the deadline is spent


async def test_a_read_timeout_is_retried_only_after_a_backoff_when_allowed(
    wire: WireServer,
) -> None:
    wire.script(Reply(body={}, delay_s=3.0), json_reply(GOOD))
    patient = RetryPolicy(
        max_retries=1, backoff_initial_s=0.001, backoff_max_s=0.5, retry_read_timeouts=True
    )
    result = await ask(client(wire, timeout_s=0.3, deadline_s=5.0, retry=patient))
    assert result.value.label == "billing"
    first, second = wire.requests
    # not at once: the second copy waited at least backoff_max_s after the first timed out
    assert second.received_at - first.received_at >= 0.3 + 0.5


async def test_401_is_not_retried_and_says_what_to_fix(wire: WireServer) -> None:
    wire.script(error(401, f"Incorrect API key; you sent: {SECRET}"))
    provider = client(wire, fallback_models=("openai/backup-model",))
    with pytest.raises(ProviderError) as caught:
        await ask(provider, max_reasks=2)
    assert len(wire.requests) == 1  # no retry, no re-ask, no fallback
    assert caught.value.status == 502
    assert "401" in caught.value.message
    assert "API key" in caught.value.message
    assert SECRET not in caught.value.message
    assert not isinstance(caught.value, ProviderUnavailableError)


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "bad request", r"rejected the request"),
        (404, "The model `test-model` does not exist", "not found"),
        (403, "forbidden", "denied"),
    ],
)
async def test_client_errors_are_not_retried(
    wire: WireServer, status: int, message: str, expected: str
) -> None:
    wire.script(error(status, message))
    with pytest.raises(ProviderError, match=expected) as caught:
        await ask(client(wire))
    assert len(wire.requests) == 1
    assert not isinstance(caught.value, ProviderUnavailableError)


async def test_malformed_http_body_is_transient(wire: WireServer) -> None:
    wire.script(Reply(raw="<html>502 Bad Gateway</html>", status=200), json_reply(GOOD))
    result = await ask(client(wire))
    assert result.value.label == "billing"
    assert len(wire.requests) == 2


async def test_invalid_output_is_re_asked_and_usage_summed(wire: WireServer) -> None:
    wire.script(text('{"label": "billing", "p": '), json_reply(GOOD))
    result = await ask(client(wire), max_reasks=1)
    assert result.value.p == 0.9
    assert result.calls == 2
    assert result.usage.prompt_tokens == 22
    reask = wire.requests[1].body["messages"]
    assert reask[-1]["role"] == "user"
    assert "That answer is invalid: the answer: Invalid JSON" in reask[-1]["content"]


async def test_re_asks_are_bounded(wire: WireServer) -> None:
    wire.script(*[text("not json at all")] * 3)
    with pytest.raises(ProviderError, match="invalid structured output") as caught:
        await ask(client(wire), max_reasks=2)
    assert len(wire.requests) == 3
    assert SECRET not in caught.value.message


async def test_re_ask_after_fallback_stays_on_the_fallback(wire: WireServer) -> None:
    wire.script(*[error(500)] * 4, text("{broken"), json_reply(GOOD))
    provider = client(wire, fallback_models=("openai/backup-model",))
    result = await ask(provider, max_reasks=1)
    assert [r.model for r in wire.requests][-2:] == ["backup-model", "backup-model"]
    assert result.model == "openai/backup-model"


async def test_logprobs_call(wire: WireServer) -> None:
    wire.script(logprobs_reply([("A", -0.1), ("B", -2.5)]))
    reply = await client(wire).logprobs(MESSAGES, top_logprobs=5)
    assert [(t.token, t.logprob) for t in reply.top_logprobs] == [("A", -0.1), ("B", -2.5)]
    body = wire.requests[0].body
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 5
    assert body["max_tokens"] == 1


async def test_api_base_is_not_sent_to_another_provider(wire: WireServer) -> None:
    provider = client(wire)
    assert provider.chain() == ("openai/test-model",)
    assert provider.chain("openai/other") == ("openai/other",)
    with_fallback = client(wire, fallback_models=("openai/test-model", "openai/b"))
    assert with_fallback.chain() == ("openai/test-model", "openai/b")


async def test_warm_up_makes_no_request(wire: WireServer) -> None:
    await client(wire).warm_up()
    assert wire.requests == []


# --------------------------------------------------------------------------- pure helpers


def test_transient_classification() -> None:
    # imported here, after gateway/__init__.py has kept litellm off the network (see its top)
    import litellm.exceptions as litellm

    request = httpx.Request("POST", "http://x")
    assert is_transient(litellm.RateLimitError("slow down", "openai", "m"))
    assert is_transient(litellm.InternalServerError("boom", "openai", "m"))
    assert is_transient(litellm.ServiceUnavailableError("down", "openai", "m"))
    assert is_transient(litellm.Timeout("late", "m", "openai"))
    assert is_transient(litellm.APIConnectionError("reset", "openai", "m", request=request))
    assert not is_transient(litellm.AuthenticationError("no", "openai", "m"))
    assert not is_transient(litellm.BadRequestError("no", "m", "openai"))
    assert not is_transient(litellm.ContextWindowExceededError("long", "m", "openai"))
    assert not is_transient(litellm.NotFoundError("no", "m", "openai"))
    assert not is_transient(ValueError("bug"))


def test_retry_after_forms() -> None:
    import litellm.exceptions as litellm

    def with_headers(headers: dict[str, str]) -> Exception:
        exc = litellm.RateLimitError("slow", "openai", "m")
        exc.litellm_response_headers = httpx.Headers(headers)  # type: ignore[attr-defined]
        return exc

    assert retry_after_s(with_headers({"retry-after": "2"})) == 2.0
    assert retry_after_s(with_headers({"retry-after-ms": "150"})) == 0.15
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after_s(with_headers({"retry-after": date})) or 0) <= 30
    assert retry_after_s(with_headers({})) is None
    assert retry_after_s(ValueError()) is None


async def test_retry_after_is_capped(wire: WireServer) -> None:
    wire.script(error(429, headers={"retry-after": "30"}), json_reply(GOOD))
    provider = client(wire, retry=RetryPolicy(retry_after_max_s=0.05, backoff_initial_s=0.001))
    started = time.monotonic()
    await ask(provider)
    assert time.monotonic() - started < 2.0


async def test_retry_after_beyond_the_deadline_is_not_waited_for(wire: WireServer) -> None:
    wire.script(error(429, headers={"retry-after": "20"}), json_reply(GOOD))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError):
        await ask(client(wire, deadline_s=1.0))
    assert time.monotonic() - started < 0.9
    assert len(wire.requests) == 1


def test_api_key_is_never_serialised(wire: WireServer) -> None:
    dumped = json.loads(client(wire).config.model_dump_json())
    assert dumped["api_key"] == "**********"

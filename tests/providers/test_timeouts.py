"""Connect and read timeouts against a slow local OpenAI-wire server that records every copy of
a request it receives (issue 17, item 3): a read timeout is not retried by default (the server
may still be working on the first copy), nor sent to a fallback model on the same server; a
connection that cannot be made is retried."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel
from support.wire_server import Reply, WireServer, json_reply, wire_client

from gateway.config import ProviderSettings, RetryPolicy, ServerSettings
from gateway.errors import ProviderUnavailableError
from gateway.providers import ChatMessage, ProviderClient, is_read_timeout, is_transient

MESSAGES = (ChatMessage(role="user", content="Classify: my card was charged twice"),)
RETRYING = RetryPolicy(max_retries=3, backoff_initial_s=0.001, backoff_max_s=0.005)


class Answer(BaseModel):
    label: str


def client(wire: WireServer, **overrides: Any) -> ProviderClient:
    return wire_client(wire, **{"retry": RETRYING, **overrides})


async def ask(provider: ProviderClient) -> Any:
    return await provider.structured(MESSAGES, Answer, max_reasks=2)


def _timeout(phase: type[httpx.TimeoutException]) -> BaseException:
    """A litellm timeout as litellm raises it: over the OpenAI SDK's, over httpx's."""
    import litellm.exceptions

    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    try:
        try:
            try:
                raise phase("timed out", request=request)
            except httpx.TimeoutException as exc:
                raise openai.APITimeoutError(request=request) from exc
        except openai.APITimeoutError as exc:
            raise litellm.exceptions.Timeout("timed out", "m", "openai") from exc
    except litellm.exceptions.Timeout as exc:
        return exc


def test_defaults_suit_hosted_and_self_hosted_providers() -> None:
    config = ProviderSettings()
    assert config.connect_timeout_s == 5.0  # a down or unroutable server fails fast
    assert config.timeout_s == 120.0  # a cold prompt on a self-hosted CPU model fits
    assert config.retry.retry_read_timeouts is False
    # a read timeout, its backoff and a fallback fit the deadline, and the deadline the request
    assert config.timeout_s < config.deadline_s < ServerSettings().request_timeout_s


def test_the_timeouts_are_separate_on_the_wire(wire: WireServer) -> None:
    caller = client(wire, connect_timeout_s=2.5, timeout_s=40.0)._call
    timeout = caller._timeout
    assert (timeout.connect, timeout.read, timeout.write) == (2.5, 40.0, 40.0)


def test_read_and_connect_timeouts_are_told_apart() -> None:
    read, connect = _timeout(httpx.ReadTimeout), _timeout(httpx.ConnectTimeout)
    assert is_transient(read) and is_transient(connect)
    assert is_read_timeout(read)
    assert not is_read_timeout(connect)
    assert not is_read_timeout(_timeout(httpx.PoolTimeout))  # never sent either
    assert is_read_timeout(TimeoutError())  # phase unknown: assume the request arrived


async def test_a_read_timeout_is_not_retried_while_the_server_works_on_the_first_copy(
    wire: WireServer,
) -> None:
    provider = client(wire, timeout_s=0.3, deadline_s=10.0)
    wire.script(json_reply({"label": "warm"}))  # litellm's first call loads its call path
    await ask(provider)
    wire.reset()
    wire.script(Reply(body={}, delay_s=1.5), *[json_reply({"label": "billing"})] * 4)
    started = time.monotonic()
    with pytest.raises(ProviderUnavailableError, match="read timeout") as caught:
        await ask(provider)
    assert time.monotonic() - started < 1.2  # no second wait for an answer
    assert "not retried" in caught.value.message
    await asyncio.sleep(1.5)  # long enough for the first copy to finish, and any retry to land
    assert len(wire.requests) == 1  # one copy only, though three retries were allowed


async def test_no_fallback_to_another_model_on_the_same_busy_server(wire: WireServer) -> None:
    wire.script(Reply(body={}, delay_s=1.0), json_reply({"label": "billing"}))
    provider = client(wire, timeout_s=0.3, fallback_models=("openai/backup-model",))
    with pytest.raises(ProviderUnavailableError, match="read timeout"):
        await ask(provider)
    await asyncio.sleep(0.3)
    assert [r.model for r in wire.requests] == ["test-model"]


async def test_a_slow_first_answer_within_the_read_timeout_is_waited_for(
    wire: WireServer,
) -> None:
    """A cold self-hosted prompt: slow, but inside the read timeout, so one copy and an answer."""
    wire.script(Reply(body=json_reply({"label": "billing"}).body, delay_s=0.8))
    result = await ask(client(wire, timeout_s=3.0))
    assert result.value.label == "billing"
    assert len(wire.requests) == 1


async def test_a_connection_refused_is_retried(wire: WireServer) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    recorder: list[str] = []

    class Calls:
        def __getattr__(self, name: str) -> Any:
            return lambda *args, **kwargs: recorder.append(name)

    config = client(wire, api_base=f"http://127.0.0.1:{port}/v1").config
    provider = ProviderClient(config, Calls())  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailableError, match="every model failed"):
        await ask(provider)
    assert recorder.count("call") == 4 and recorder.count("retry") == 3  # nothing was sent
    status = provider.health.snapshot()
    assert status.reachable is False and status.error is not None

"""gateway/provider_tuning.py and the prompt's system-message cache: in effect, and invisible.

Each shortcut must leave what the provider receives and what the caller gets exactly as the
library would have made them; these tests compare against the library's own code paths, so an
upgrade that changes those paths shows up here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import litellm
import pytest
from instructor import Mode
from instructor.v2 import mode_registry
from instructor.v2.core.providers import Provider
from instructor.v2.providers.openai.handlers import OpenAIJSONHandler
from litellm._internal_context import is_internal_call
from pydantic import BaseModel
from support.wire_server import WireServer, json_reply, wire_client

import gateway.providers.client  # noqa: F401  (applies the tuning)
from gateway.providers import tuning as provider_tuning
from gateway.providers.prompts import ChatMessage, RubricView, load_prompt
from gateway.rubrics.model import Axis, Label, RubricSet


class Answer(BaseModel):
    label: str
    p: float


def _json_handler() -> Any:
    return mode_registry.get_handlers(Provider.OPENAI, Mode.JSON).request_handler


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": [{"role": "system", "content": "Rules."}, {"role": "user", "content": "t"}]},
        {"messages": [{"role": "user", "content": "no system message"}]},
        {"messages": [{"role": "system", "content": [{"type": "text", "text": "parts"}]}]},
        {"messages": [{"role": "system", "content": "s"}, {"role": "system", "content": "s2"}]},
        {"messages": [{"role": "system", "content": "s"}], "stream": True},
        {"messages": []},
    ],
)
def test_json_mode_instruction_cache_matches_instructor(kwargs: dict[str, Any]) -> None:
    handler = _json_handler()
    assert getattr(handler.__self__, "_gateway_cached", False)
    expected = OpenAIJSONHandler().prepare_request(Answer, copy.deepcopy(kwargs))
    before = copy.deepcopy(kwargs)
    for _ in range(2):  # uncached, then cached
        assert handler(response_model=Answer, kwargs=kwargs) == expected
    assert kwargs == before  # the caller's messages are not mutated


def test_tuning_is_idempotent() -> None:
    handler = _json_handler()
    provider_tuning.apply()
    assert _json_handler().__self__ is handler.__self__


def test_litellm_logging_is_skipped_only_while_nothing_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with provider_tuning.litellm_logging_skipped():
        assert is_internal_call.get() is True
    assert is_internal_call.get() is False
    monkeypatch.setattr(litellm, "success_callback", [lambda *a, **k: None])
    with provider_tuning.litellm_logging_skipped():
        assert is_internal_call.get() is False


async def test_cost_is_still_reported_without_litellm_logging(wire: WireServer) -> None:
    wire.script(json_reply({"label": "billing", "p": 0.9}, model="gpt-4o-mini"))
    client = wire_client(wire, model="openai/gpt-4o-mini")
    result = await client.structured(
        (ChatMessage(role="user", content="hi"),), Answer, max_reasks=0
    )
    assert result.usage.cost_usd > 0


RUBRIC = RubricSet(
    name="support",
    axes={
        "category": Axis(
            labels=(
                Label(name="billing", rubric="About a charge?"),
                Label(name="other", rubric="About anything else?"),
            )
        )
    },
)


@pytest.mark.parametrize("ref", ["classify.v1", "classify.v2"])
def test_cached_system_message_is_the_rendered_one(ref: str) -> None:
    prompt = load_prompt(ref)
    first = prompt.compile(RUBRIC, ["category"], "ticket one")
    second = prompt.compile(RUBRIC, ["category"], "ticket two")
    rendered = prompt.render(
        rubric=RubricView(name=RUBRIC.name, description=RUBRIC.description),
        axes=second.spec.axes,
        text="ticket two",
    )
    assert second.messages == rendered
    assert first.messages[0] is second.messages[0]  # rendered once
    renamed = RUBRIC.model_copy(update={"name": "billing-inbox"})
    assert "billing-inbox" in prompt.compile(renamed, ["category"], "t").messages[0].content


def test_a_system_block_that_reads_the_ticket_is_rendered_every_time(tmp_path: Path) -> None:
    source = (Path(load_prompt("classify.v2").path)).read_text()
    (tmp_path / "echo.v1.j2").write_text(
        source.replace("{% block system %}", "{% block system %}Ticket: {{ text }}\n", 1)
    )
    prompt = load_prompt("echo.v1", tmp_path)
    one = prompt.compile(RUBRIC, ["category"], "first ticket")
    two = prompt.compile(RUBRIC, ["category"], "second ticket")
    assert "first ticket" in one.messages[0].content
    assert "second ticket" in two.messages[0].content

"""gateway/providers/tuning.py and the prompt's system-message cache: in effect, and invisible.

Each shortcut must leave what the provider receives and what the caller gets exactly as the
library would have made them; these tests compare against the library's own code paths, so an
upgrade that changes those paths shows up here. Nothing is put in place by importing the gateway:
these tests configure the libraries the way start-up does (``configure_libraries``, which
building a ``ProviderClient`` calls), and a fresh process checks that importing changes nothing.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
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
from support.rubrics import rubric_of
from support.wire_server import WireServer, json_reply, wire_client

from gateway.config import PROJECT_ROOT
from gateway.providers import ChatMessage, RubricView, configure_libraries, load_prompt
from gateway.providers import tuning as provider_tuning


@pytest.fixture(autouse=True)
def configured() -> None:
    """The libraries as start-up leaves them (idempotent: other tests may have built clients)."""
    configure_libraries()


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


def test_configuring_again_changes_nothing() -> None:
    from instructor.v2.validation import async_validators

    handler, check = _json_handler(), async_validators.reject_async_validators
    configure_libraries()
    assert _json_handler().__self__ is handler.__self__
    assert async_validators.reject_async_validators is check


# In a fresh process: the libraries' state, on import of the whole of gateway.providers, and
# once a client is built. Printed as JSON, one object per line.
_PROBE = """
import json, logging, os
import litellm
import instructor.v2.providers.openai.handlers  # instructor's own OpenAI handlers, registered
from instructor import Mode
from instructor.v2 import mode_registry
from instructor.v2.core.providers import Provider
from instructor.v2.validation import async_validators
from litellm._internal_context import is_internal_call

litellm.num_retries = 2  # a value start-up must reset, and importing must not


def state():
    handler = mode_registry.get_handlers(Provider.OPENAI, Mode.JSON).request_handler
    print(json.dumps({
        "suppress_debug_info": litellm.suppress_debug_info,
        "num_retries": litellm.num_retries,
        "callbacks": [len(litellm.callbacks), len(litellm.success_callback)],
        "instructor_log_level": logging.getLogger("instructor").level,
        "async_validator_check": async_validators.reject_async_validators.__qualname__,
        "memoized": getattr(async_validators.reject_async_validators, "_gateway_memoized", False),
        "json_handler": type(handler.__self__).__name__,
        "is_internal_call": is_internal_call.get(),
    }))


state()
import gateway.providers
for name in gateway.providers.__all__:  # every module of the package, imported
    getattr(gateway.providers, name)
state()
from gateway.config import ProviderSettings
gateway.providers.ProviderClient(ProviderSettings(model="openai/test-model"))
state()
"""


def test_importing_the_providers_changes_nothing_in_the_libraries() -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    run = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    before, imported, built = (json.loads(line) for line in lines)
    assert imported == before
    assert before["memoized"] is False
    assert before["json_handler"] == "OpenAIJSONHandler"
    # building a client is start-up: that is where the libraries are configured
    assert built == {
        **before,
        "suppress_debug_info": True,
        "num_retries": None,
        "instructor_log_level": 50,  # logging.CRITICAL
        "async_validator_check": "memoize_async_validator_check.<locals>.reject_async_validators",
        "memoized": True,
        "json_handler": "CachedInstructionJSONHandler",
    }


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


RUBRIC = rubric_of({"category": {"billing": "About a charge?", "other": "About anything else?"}})


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

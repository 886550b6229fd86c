"""Structured output against the local OpenAI-wire server: the strongest mode each model offers
(native JSON schema or JSON mode), the path used reported, answers bounded by max_tokens from
the schema, and re-asks that say what was wrong without growing the transcript (issue 17,
items 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.rubrics import rubric_of
from support.settings import make_settings
from support.wire_server import (
    Body,
    Reply,
    WireServer,
    json_reply,
    requested_schema,
    schema_filler,
    text,
    wire_client,
)

from gateway.config import PROJECT_ROOT, ProviderSettings, RetryPolicy
from gateway.errors import ProviderError
from gateway.providers import ProviderClient, load_prompt, output_token_budget, resolve_mode
from gateway.rubrics import RubricSet
from gateway.scoring import ScoreResult
from gateway.scoring.llm import LLMScorer
from gateway.server import create_app

FAST = RetryPolicy(max_retries=0)
TICKET = "I was charged twice for order 12345, please refund"


def rubric(category: int = 3) -> RubricSet:
    labels = {"billing": "A charge?", "technical": "A bug?", "access": "Logging in?"}
    labels.update({f"extra{i}": f"Question {i}?" for i in range(category - 3)})
    return rubric_of(
        {
            "category": dict(list(labels.items())[:category]),
            "priority": {"high": "Urgent?", "low": "Can it wait?"},
        }
    )


def scorer(wire: WireServer, reasks: int = 2, **overrides: Any) -> LLMScorer:
    client = wire_client(wire, **{"retry": FAST, **overrides})
    return LLMScorer(client, load_prompt("classify.v3"), max_reasks=reasks)


def good(category: str = "billing") -> dict[str, Any]:
    return {
        "category": {
            "rationale": "money",
            "choice": category,
            "p_yes": {"billing": 0.9, "technical": 0.1, "access": 0.0},
        },
        "priority": {"rationale": "r", "choice": "high", "p_yes": {"high": 0.7, "low": 0.2}},
    }


def misplaced() -> dict[str, Any]:
    """The answer of issue 17: the category keys put under priority."""
    bad = good()
    bad["priority"]["p_yes"] = {"billing": 0.9, "technical": 0.1, "access": 0.0}
    return bad


# --------------------------------------------------------------------------- which mode


@pytest.mark.parametrize(
    ("config", "model", "expected"),
    [
        ({}, "openai/gpt-4o-mini", "json_schema"),  # litellm's table: response schemas
        ({}, "openai/test-model", "json"),  # unknown to litellm: JSON mode
        ({"structured_mode": "json"}, "openai/gpt-4o-mini", "json"),
        (
            {"structured_modes": {"openai/test-model": "json_schema"}},
            "openai/test-model",
            "json_schema",
        ),
        (
            {"structured_mode": "json", "structured_modes": {"openai/gpt-4o": "json_schema"}},
            "openai/gpt-4o",
            "json_schema",
        ),
    ],
)
def test_the_mode_is_the_strongest_the_model_offers_or_as_configured(
    config: dict[str, Any], model: str, expected: str
) -> None:
    assert resolve_mode(ProviderSettings(model=model, **config), model) == expected


def test_per_model_modes_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_STRUCTURED_MODES", '{"openai/qwen2.5": "json_schema"}')
    assert ProviderSettings().structured_modes == {"openai/qwen2.5": "json_schema"}


async def test_native_json_schema_is_sent_strict_and_without_the_schema_in_the_prompt(
    wire: WireServer,
) -> None:
    wire.responder = schema_filler
    (result,) = await scorer(wire, model="openai/gpt-4o-mini").score_many([TICKET], rubric(), [])
    assert isinstance(result, ScoreResult)
    assert result.structured_output == "json_schema"
    (request,) = wire.requests
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["name"] == "classify_ticket"
    schema = response_format["json_schema"]["schema"]
    assert set(schema["properties"]) == {"category", "priority"}
    assert '"$defs"' in json.dumps(schema)
    assert '"$defs"' not in request.text()  # the schema travels in response_format only


async def test_json_mode_for_a_model_litellm_does_not_know(wire: WireServer) -> None:
    wire.responder = schema_filler
    (result,) = await scorer(wire).score_many([TICKET], rubric(), [])
    assert isinstance(result, ScoreResult) and result.structured_output == "json"
    (request,) = wire.requests
    assert request.body["response_format"] == {"type": "json_object"}
    assert '"$defs"' in request.body["messages"][0]["content"]  # the schema, in the prompt


async def test_a_server_that_enforces_the_schema_answers_at_once_where_json_mode_failed(
    wire: WireServer,
) -> None:
    """Like llama-server in issue 17: JSON mode misplaces keys, json_schema is constrained."""

    def server(body: Body) -> Reply:
        if body["response_format"]["type"] == "json_schema":
            return json_reply(good())
        return json_reply(misplaced())

    wire.responder = server
    (failed,) = await scorer(wire).score_many([TICKET], rubric(), [])
    assert isinstance(failed, ProviderError) and len(wire.requests) == 3
    wire.reset()
    wire.responder = server
    native = scorer(wire, structured_modes={"openai/test-model": "json_schema"})
    (result,) = await native.score_many([TICKET], rubric(), [])
    assert isinstance(result, ScoreResult) and result.structured_output == "json_schema"
    assert len(wire.requests) == 1
    assert result.axes["category"].raw["billing"] == 0.9


def test_the_mode_is_part_of_the_fingerprint(wire: WireServer) -> None:
    assert scorer(wire).fingerprint != scorer(wire, structured_mode="json_schema").fingerprint


# --------------------------------------------------------------------------- max_tokens


async def test_max_tokens_is_derived_from_the_schema_and_grows_with_the_labels(
    wire: WireServer,
) -> None:
    wire.responder = schema_filler
    budgets = []
    for labels in (3, 12):
        wire.requests.clear()
        await scorer(wire).score_many([TICKET], rubric(labels), [])
        (request,) = wire.requests
        schema = requested_schema(request.body)
        assert schema is not None
        assert request.body["max_tokens"] == output_token_budget(schema)
        budgets.append(request.body["max_tokens"])
    small, large = budgets
    assert 200 < small < 1000  # two axes: rationales, a choice each, five probabilities
    # each label adds its key and one probability, not more
    assert 9 * 8 <= large - small <= 9 * 20


async def test_a_valid_answer_fits_the_bound(wire: WireServer) -> None:
    wire.responder = schema_filler
    await scorer(wire).score_many([TICKET], rubric(), [])
    (request,) = wire.requests
    answer = json.dumps(good(), indent=2) + " " * 8 * 12  # pretty-printed, deeply indented
    assert len(answer) / 3 < request.body["max_tokens"]  # ~3 characters per token at worst


async def test_the_bound_can_be_set(wire: WireServer) -> None:
    wire.responder = schema_filler
    await scorer(wire, structured_max_tokens=333).score_many([TICKET], rubric(), [])
    assert wire.requests[0].body["max_tokens"] == 333


async def test_an_answer_cut_off_at_the_bound_says_so(wire: WireServer) -> None:
    wire.script(text('{"category": {"rationale": "a very long', finish_reason="length"))
    (outcome,) = await scorer(wire).score_many([TICKET], rubric(), [])
    assert isinstance(outcome, ProviderError)
    assert "max_tokens" in outcome.message and "GATEWAY_STRUCTURED_MAX_TOKENS" in outcome.message
    assert len(wire.requests) == 1  # the same bound would cut it again: not re-asked


# --------------------------------------------------------------------------- re-asks


async def test_a_re_ask_names_the_error_and_replaces_the_last_correction(
    wire: WireServer,
) -> None:
    wire.script(json_reply(misplaced()), text('{"category": '), json_reply(good()))
    (result,) = await scorer(wire, reasks=2).score_many([TICKET], rubric(), [])
    assert isinstance(result, ScoreResult)
    first, second, third = (r.body["messages"] for r in wire.requests)
    # every request is the original conversation plus at most one correction: no growth
    assert len(first) == 2
    assert len(second) == len(third) == 4
    assert second[:2] == third[:2] == first
    assert second[2] == {"role": "assistant", "content": json.dumps(misplaced())}
    correction = second[3]["content"]
    assert "priority.p_yes.billing: Extra inputs are not permitted" in correction
    assert "priority.p_yes.high: Field required" in correction
    assert "attempt 2 of 3" in correction
    assert "0.9" not in correction  # field paths and reasons, never the values
    assert TICKET not in correction
    # the next re-ask says something else: what was wrong with the newer answer
    assert third[2]["content"] == '{"category": '
    assert "Invalid JSON" in third[3]["content"] and "attempt 3 of 3" in third[3]["content"]
    assert "Extra inputs" not in third[3]["content"]


async def test_an_identical_invalid_answer_still_gets_a_changed_re_ask(wire: WireServer) -> None:
    wire.script(*[json_reply(misplaced())] * 3)
    (outcome,) = await scorer(wire, reasks=2).score_many([TICKET], rubric(), [])
    assert isinstance(outcome, ProviderError)
    bodies = [json.dumps(r.body["messages"]) for r in wire.requests]
    assert len(set(bodies)) == 3  # temperature 0 and the same question would be the same answer


# --------------------------------------------------------------------------- the API


def test_the_response_and_metrics_say_which_path_was_used(
    tmp_path: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = schema_filler
    settings = make_settings(
        cache={"dir": tmp_path / "cache"},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        provider={
            "model": "openai/test-model",
            "api_base": wire.url,
            "retry": FAST,
            "structured_modes": {"openai/test-model": "json_schema"},
        },
        redaction={"enabled": False},
        scoring={"scorer": "llm"},
    )
    with TestClient(create_app(settings, wait=True)) as client:
        body = client.post("/classify", json={"text": TICKET}).json()
        assert (body["scorer"], body["model"], body["structured_output"]) == (
            "llm",
            "openai/test-model",
            "json_schema",
        )
        metrics = client.get("/metrics").text
    sample = 'gateway_provider_structured_answers_total{mode="json_schema",outcome="valid"} 1.0'
    assert sample in metrics
    assert 'gateway_provider_structured_answers_total{mode="json",outcome="valid"} 0.0' in metrics


async def test_a_client_built_alone_derives_the_bound_too(wire: WireServer) -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        label: str
        p: float

    wire.script(json_reply({"label": "a", "p": 0.5}))
    client = ProviderClient(wire_client(wire, retry=FAST).config)
    from gateway.providers import ChatMessage

    result = await client.structured([ChatMessage(role="user", content="x")], Answer, max_reasks=0)
    assert result.mode == "json"
    assert wire.requests[0].body["max_tokens"] == output_token_budget(Answer.model_json_schema())

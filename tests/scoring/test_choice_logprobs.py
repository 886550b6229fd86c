"""Probabilities that mean something (issue 17, items 4 and 5), against the local OpenAI-wire
server: the llm scorer's distribution from the logprobs of its ``choice`` (also under native
JSON schema), the choice used where logprobs are absent, legacy-format logprobs refused, and the
logprob scorer's label orders averaged against letter bias."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from support.rubrics import rubric_of
from support.wire_server import (
    Body,
    Reply,
    WireServer,
    completion_body,
    json_reply,
    logprobs_reply,
    wire_client,
)

from gateway.config import RetryPolicy
from gateway.errors import ConfigError
from gateway.providers import TokenLogprob, TokenPosition, load_prompt
from gateway.rubrics import RubricSet
from gateway.scoring import ScoreResult
from gateway.scoring.llm import LLMScorer
from gateway.scoring.logprob import LogprobScorer, label_orders
from gateway.scoring.token_choice import choice_distribution, label_distribution

FAST = RetryPolicy(max_retries=0)
TICKET = "The app crashes when I open settings"
NAMES = ["billing", "technical", "Account Access"]


def rubric() -> RubricSet:
    return rubric_of(
        {
            "category": {
                "billing": "Is this about a charge, refund or invoice?",
                "technical": "Is this about a bug or an outage?",
                "Account Access": "Is this about logging in?",
            }
        }
    )


def answer(choice: str, p_yes: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "category": {
            "rationale": "the app fails",
            "choice": choice,
            "p_yes": dict(zip(["billing", "technical", "Account_Access"], p_yes, strict=True)),
        }
    }


def pieces(content: str) -> list[str]:
    """A stand-in tokenizer: words, runs of spaces, single punctuation marks."""
    return re.findall(r"\w+|\s+|[^\w\s]", content)


def with_logprobs(content: str, alternatives: dict[str, list[tuple[str, float]]]) -> Body:
    """Chat logprobs for ``content``: every token at probability 1 except those named in
    ``alternatives`` (token -> its top list, the token itself first, probabilities)."""
    entries = []
    for token in pieces(content):
        top = alternatives.get(token, [(token, 1.0)])
        entries.append(
            {
                "token": token,
                "logprob": math.log(top[0][1]),
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in top
                ],
            }
        )
    return {"content": entries, "refusal": None}


def structured_reply(
    payload: dict[str, Any], alternatives: dict[str, list[tuple[str, float]]] | None
) -> Reply:
    content = json.dumps(payload)
    logprobs = with_logprobs(content, alternatives) if alternatives is not None else None
    message = {"role": "assistant", "content": content}
    return Reply(body=completion_body(message, logprobs=logprobs))


def llm(wire: WireServer, **overrides: Any) -> LLMScorer:
    client = wire_client(wire, retry=FAST, **overrides)
    return LLMScorer(client, load_prompt("classify.v3"))


# --------------------------------------------------------------------------- the token walk


def position(token: str, p: float, *alts: tuple[str, float]) -> TokenPosition:
    top = [TokenLogprob(token=t, logprob=math.log(q)) for t, q in ((token, p), *alts)]
    return TokenPosition(token=token, logprob=math.log(p), top=top)


def test_a_label_behind_a_shared_first_token_is_reached_further_on() -> None:
    names = ["account", "account_access", "billing"]
    # '"' then "account" (0.8; "billing" 0.2), then '_' (0.25) or the closing quote (0.75)
    tokens = [
        position('"', 1.0),
        position("account", 0.8, ("billing", 0.2)),
        position('"', 0.75, ("_", 0.25)),
        position("}", 1.0),
    ]
    dist = label_distribution(tokens, 1, names, "account")
    assert dist == pytest.approx({"account": 0.6, "account_access": 0.2, "billing": 0.2})


def test_tokens_that_do_not_spell_the_content_are_not_read() -> None:
    content = json.dumps(answer("technical", (0.1, 0.9, 0.0)))
    tokens = [position(t, 1.0) for t in pieces(content)]
    assert choice_distribution(content, tokens, "category", NAMES, "technical") is not None
    assert choice_distribution(content + "}", tokens, "category", NAMES, "technical") is None
    # tokens around the content (a code fence the server stripped from it) are skipped
    fenced = [position(t, 1.0) for t in ["```", "json", "\n", *pieces(content), "\n", "```"]]
    assert choice_distribution(content, fenced, "category", NAMES, "technical") is not None
    # a choice the tokens do not spell (a mismatched answer) gives no distribution either
    assert choice_distribution(content, tokens, "category", NAMES, "billing") is None


# --------------------------------------------------------------------------- the llm scorer


async def test_choice_logprobs_give_the_distribution_under_json_schema(wire: WireServer) -> None:
    seen: list[Body] = []

    def server(body: Body) -> Reply:
        seen.append(body)
        alternatives = {"technical": [("technical", 0.7), ("billing", 0.2), ("Account", 0.1)]}
        return structured_reply(answer("technical", (0.0, 1.0, 0.0)), alternatives)

    wire.responder = server
    scorer = llm(wire, structured_mode="json_schema")
    (result,) = await scorer.score_many([TICKET], rubric(), ["category"])
    assert isinstance(result, ScoreResult)
    assert result.structured_output == "json_schema"
    (body,) = seen
    assert body["response_format"]["type"] == "json_schema"
    assert body["logprobs"] is True and body["top_logprobs"] == 10
    category = result.axes["category"]
    assert category.raw == {"billing": 0.0, "technical": 1.0, "Account Access": 0.0}
    # the verbalised 0/1 is not the confidence: the tokens of the choice are
    assert category.scores == pytest.approx(
        {"billing": 0.2, "technical": 0.7, "Account Access": 0.1}
    )


async def test_a_multi_token_label_is_read_through_its_tokens(wire: WireServer) -> None:
    alternatives = {
        "Account": [("Account", 0.6), ("technical", 0.3), ("billing", 0.1)],
        "Access": [("Access", 0.9), ("Settings", 0.1)],  # "Settings": no label, dropped
    }
    wire.script(structured_reply(answer("Account Access", (0.0, 0.2, 0.9)), alternatives))
    (result,) = await llm(wire).score_many([TICKET], rubric(), ["category"])
    assert isinstance(result, ScoreResult)
    scores = result.axes["category"].scores
    # only the label continues after "Account": its path is 0.6 (what follows is determined)
    assert scores == pytest.approx({"billing": 0.1, "technical": 0.3, "Account Access": 0.6})


async def test_a_choice_that_disagrees_with_p_yes_lowers_the_confidence(wire: WireServer) -> None:
    # no logprobs: p_yes says billing (0.9), the choice says technical
    wire.script(structured_reply(answer("technical", (0.9, 0.1, 0.0)), None))
    (result,) = await llm(wire).score_many([TICKET], rubric(), ["category"])
    assert isinstance(result, ScoreResult)
    scores = result.axes["category"].scores
    assert scores == pytest.approx({"billing": 0.45, "technical": 0.55, "Account Access": 0.0})
    assert max(scores.values()) < 0.6  # under any auto-route bar


async def test_with_logprobs_a_disagreeing_choice_is_the_token_distribution(
    wire: WireServer,
) -> None:
    alternatives = {"technical": [("technical", 0.55), ("billing", 0.45)]}
    wire.script(structured_reply(answer("technical", (0.9, 0.1, 0.0)), alternatives))
    (result,) = await llm(wire).score_many([TICKET], rubric(), ["category"])
    assert isinstance(result, ScoreResult)
    scores = result.axes["category"].scores
    assert scores["technical"] == pytest.approx(0.55, abs=1e-3)
    assert scores["billing"] == pytest.approx(0.45, abs=1e-3)


async def test_a_model_without_logprobs_is_not_asked_for_them(wire: WireServer) -> None:
    wire.script(json_reply(answer("technical", (0.1, 0.9, 0.0))))
    scorer = LLMScorer(wire_client(wire, retry=FAST), load_prompt("classify.v3"), top_logprobs=0)
    await scorer.score_many([TICKET], rubric(), ["category"])
    (request,) = wire.requests
    assert "logprobs" not in request.body


# --------------------------------------------------------------------------- the logprob scorer


def legacy_reply() -> Reply:
    """The text-completions logprobs shape, as some servers send it on chat completions."""
    logprobs = {
        "tokens": ["A"],
        "token_logprobs": [-0.1],
        "top_logprobs": [{"A": -0.1, "B": -2.4}],
        "text_offset": [0],
    }
    return Reply(body=completion_body({"role": "assistant", "content": "A"}, logprobs=logprobs))


def logprob(wire: WireServer, orders: int = 1) -> LogprobScorer:
    client = wire_client(wire, retry=FAST)
    return LogprobScorer(client, load_prompt("label_code.v2"), orders=orders)


async def test_legacy_format_logprobs_are_refused_at_start_up(wire: WireServer) -> None:
    wire.script(legacy_reply())
    with pytest.raises(ConfigError, match=r"legacy completions format.*none"):
        await logprob(wire).check()


async def test_legacy_format_logprobs_fail_the_ticket_saying_so(wire: WireServer) -> None:
    wire.script(legacy_reply())
    (outcome,) = await logprob(wire).score_many([TICKET], rubric(), ["category"])
    assert not isinstance(outcome, ScoreResult)
    assert "legacy completions format" in outcome.message


def test_label_orders_are_cyclic_shifts() -> None:
    assert label_orders(3, 3) == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert label_orders(4, 2) == [[0, 1, 2, 3], [2, 3, 0, 1]]
    assert label_orders(2, 5) == [[0, 1], [1, 0]]  # no more orders than labels


def _codes(body: Body) -> dict[str, str]:
    system = body["messages"][0]["content"]
    return {name: code for code, name in re.findall(r"^([A-Z]): ([^:\n]+):", system, re.M)}


async def test_orders_cancel_a_pure_letter_bias(wire: WireServer) -> None:
    # a model that answers "B" whatever B codes
    top = [("B", math.log(0.6)), ("A", math.log(0.3)), ("C", math.log(0.1))]
    wire.responder = lambda body: logprobs_reply(top)
    (biased,) = await logprob(wire, orders=1).score_many([TICKET], rubric(), ["category"])
    (averaged,) = await logprob(wire, orders=3).score_many([TICKET], rubric(), ["category"])
    assert isinstance(biased, ScoreResult) and isinstance(averaged, ScoreResult)
    assert biased.axes["category"].scores["technical"] == pytest.approx(0.6)
    assert averaged.axes["category"].scores == pytest.approx(dict.fromkeys(NAMES, 1 / 3))
    orders = [_codes(r.body) for r in wire.requests[1:]]
    assert len(orders) == 3
    for name in NAMES:  # every label under a different letter in each order
        assert len({codes[name] for codes in orders}) == 3


async def test_orders_keep_a_model_that_reads_the_labels(wire: WireServer) -> None:
    def server(body: Body) -> Reply:
        code = _codes(body)["technical"]
        others = [c for c in "ABC" if c != code]
        return logprobs_reply(
            [(code, math.log(0.8)), (others[0], math.log(0.15)), (others[1], math.log(0.05))]
        )

    wire.responder = server
    (result,) = await logprob(wire, orders=3).score_many([TICKET], rubric(), ["category"])
    assert isinstance(result, ScoreResult)
    scores = result.axes["category"].scores
    assert scores["technical"] == pytest.approx(0.8)
    assert sum(scores.values()) == pytest.approx(1.0)
    assert result.usage is not None and result.usage.prompt_tokens == 33  # three calls


def test_the_logprob_builder_takes_its_orders_from_settings(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.settings import make_settings

    from gateway.providers import NullObserver
    from gateway.scoring.provider_scorers import build_provider_scorer

    monkeypatch.setenv("GATEWAY_LOGPROB_ORDERS", "3")
    settings = make_settings(
        scoring={"scorer": "logprob", "local_weight": 0},  # the logprob scorer itself
        provider={"model": "openai/test-model", "api_base": wire.url},
    )
    assert settings.scoring.logprob_orders == 3
    built = build_provider_scorer(settings, logprob(wire), NullObserver())
    assert isinstance(built, LogprobScorer)
    assert built.fingerprint == logprob(wire, orders=3).fingerprint != logprob(wire).fingerprint

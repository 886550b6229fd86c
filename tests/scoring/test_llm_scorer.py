"""LLMScorer and LogprobScorer end to end through litellm against the local OpenAI-wire server."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel
from support.rubrics import rubric_of
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

from gateway.config import ProviderSettings, RetryPolicy
from gateway.errors import ConfigError, InvalidRequestError, ProviderError, ProviderUnavailableError
from gateway.providers import ChatMessage, ProviderClient, Structured, TokenLogprob, load_prompt
from gateway.redaction import PresidioRedactor, SpacyModel
from gateway.rubrics import RubricSet
from gateway.scoring import Scorer, ScoreResult
from gateway.scoring.llm import LLMScorer
from gateway.scoring.logprob import MIN_PROBABILITY, LogprobScorer, code_distribution

M = TypeVar("M", bound=BaseModel)

FAST = RetryPolicy(max_retries=2, backoff_initial_s=0.001, backoff_max_s=0.005)
TICKET = "I was charged twice for order 12345, please refund"


def rubric() -> RubricSet:
    return rubric_of(
        {
            "category": {
                "billing": "Is this about a charge, refund or invoice?",
                "technical": "Is this about a bug or an outage?",
                "Account Access": "Is this about logging in?",
            },
            "priority": {
                "high": "Does this need an answer within the hour?",
                "low": "Can this wait a few days?",
            },
        }
    )


QUESTIONS = [label.rubric for axis in rubric().axes.values() for label in axis.labels]


def answer(
    category: tuple[float, float, float] = (0.9, 0.3, 0.0),
    priority: tuple[float, float] = (0.6, 0.2),
    choice: str = "billing",
) -> dict[str, Any]:
    billing, technical, access = category
    return {
        "category": {
            "rationale": "a double charge",
            "choice": choice,
            "p_yes": {"billing": billing, "technical": technical, "Account_Access": access},
        },
        "priority": {
            "rationale": "money is involved",
            "choice": "high",
            "p_yes": {"high": priority[0], "low": priority[1]},
        },
    }


def provider(wire: WireServer, **overrides: Any) -> ProviderClient:
    return wire_client(wire, **{"retry": FAST, **overrides})


def llm(wire: WireServer, prompt: str = "classify.v2", **kwargs: Any) -> LLMScorer:
    return LLMScorer(provider(wire), load_prompt(prompt), **kwargs)


def logprob(wire: WireServer, **overrides: Any) -> LogprobScorer:
    return LogprobScorer(provider(wire, **overrides), load_prompt("label_code.v1"))


# --------------------------------------------------------------------------- llm scorer


def test_scorers_implement_the_protocol(wire: WireServer) -> None:
    assert isinstance(llm(wire), Scorer)
    assert isinstance(logprob(wire), Scorer)


@pytest.mark.parametrize("prompt", ["classify.v1", "classify.v2"])
async def test_prompt_carries_every_rubric_question(wire: WireServer, prompt: str) -> None:
    wire.responder = schema_filler
    await llm(wire, prompt).score_many([TICKET], rubric(), [])
    (request,) = wire.requests  # both axes in one call
    shown = request.text()
    for question in QUESTIONS:
        assert question in shown
    assert TICKET in shown
    # instructor's JSON mode: the response schema travels in the system message
    assert '"p_yes"' in request.body["messages"][0]["content"]


async def test_scripted_reply_becomes_the_expected_distribution(wire: WireServer) -> None:
    wire.script(json_reply(answer()))
    scorer = llm(wire)
    (result,) = await scorer.score_many([TICKET], rubric(), ["category", "priority"])
    category = result.axes["category"]
    assert category.raw == {"billing": 0.9, "technical": 0.3, "Account Access": 0.0}
    # no logprobs in the reply: normalised P(yes) (0.75, 0.25, 0) averaged with the choice
    assert category.scores == pytest.approx(
        {"billing": 0.875, "technical": 0.125, "Account Access": 0.0}
    )
    assert result.axes["priority"].scores == pytest.approx({"high": 0.875, "low": 0.125})
    assert result.scorer == "llm"
    assert result.model == "openai/test-model"
    assert result.prompt == scorer.prompt == load_prompt("classify.v2").ref.tag
    assert result.usage is not None
    assert result.usage.prompt_tokens == 11


async def test_the_rationale_is_the_axis_evidence_redacted_and_bounded(
    wire: WireServer, spacy_model: SpacyModel
) -> None:
    reply = answer()
    reply["category"]["rationale"] = "Maria Gonzalez (maria.gonzalez@example.com) was charged twice"
    reply["priority"]["rationale"] = "urgent " * 80  # over the 300-character bound
    wire.script(json_reply(reply), json_reply(reply))
    redactor = PresidioRedactor(spacy_model)
    (result,) = await llm(wire, redactor=redactor).score_many(
        [TICKET], rubric(), ["category", "priority"]
    )
    category = result.axes["category"].evidence
    assert category is not None and category.source == "llm" and category.label == "billing"
    assert category.rationale is not None
    assert "maria" not in category.rationale.lower() and "<EMAIL_ADDRESS>" in category.rationale
    priority = result.axes["priority"].evidence
    assert priority is not None and priority.rationale is not None
    assert len(priority.rationale) <= 300
    # without a redactor a rationale is not kept at all
    (bare,) = await llm(wire).score_many([TICKET], rubric(), ["category", "priority"])
    assert bare.axes["category"].evidence is None


async def test_all_zero_is_uniform_before_the_choice(wire: WireServer) -> None:
    wire.script(json_reply(answer(category=(0.0, 0.0, 0.0))))
    (result,) = await llm(wire).score_many([TICKET], rubric(), ["category", "priority"])
    # uniform P(yes), averaged with the choice (billing)
    assert result.axes["category"].scores == pytest.approx(
        {"billing": 2 / 3, "technical": 1 / 6, "Account Access": 1 / 6}
    )
    assert result.axes["category"].raw == {"billing": 0.0, "technical": 0.0, "Account Access": 0.0}


async def test_only_the_requested_axes_are_asked(wire: WireServer) -> None:
    wire.responder = schema_filler
    (result,) = await llm(wire).score_many([TICKET], rubric(), ["priority"])
    assert list(result.axes) == ["priority"]
    schema_text = wire.requests[0].body["messages"][0]["content"]
    assert "Is this about a charge" not in schema_text


async def test_malformed_json_is_re_asked(wire: WireServer) -> None:
    wire.script(text('{"category": {"rationale": "x", '), json_reply(answer()))
    (result,) = await llm(wire, max_reasks=1).score_many([TICKET], rubric(), [])
    assert result.axes["category"].raw["billing"] == 0.9
    assert len(wire.requests) == 2
    assert result.usage is not None and result.usage.prompt_tokens == 22  # both calls counted


def _unknown_p_yes(bad: dict[str, Any]) -> None:
    bad["category"]["p_yes"]["refunds"] = 0.99


def _unknown_choice(bad: dict[str, Any]) -> None:
    bad["category"]["choice"] = "refunds"


@pytest.mark.parametrize("spoil", [_unknown_p_yes, _unknown_choice])
async def test_an_unknown_label_is_rejected_and_re_asked(
    wire: WireServer, spoil: Callable[[dict[str, Any]], None]
) -> None:
    bad = answer()
    spoil(bad)
    wire.script(json_reply(bad), json_reply(answer()))
    (result,) = await llm(wire, max_reasks=1).score_many([TICKET], rubric(), [])
    assert len(wire.requests) == 2
    assert "refunds" not in result.axes["category"].raw
    reask = wire.requests[1].body["messages"][-1]["content"]
    assert reask.startswith("That answer is invalid: category.")  # where, not what
    assert "refunds: Extra inputs" in reask or "category.choice: Input should be" in reask


async def test_an_unknown_label_is_never_passed_on(wire: WireServer) -> None:
    bad = answer()
    bad["category"]["p_yes"]["refunds"] = 0.99
    wire.script(*[json_reply(bad)] * 3)
    (outcome,) = await llm(wire, max_reasks=2).score_many([TICKET], rubric(), [])
    assert isinstance(outcome, ProviderError)
    assert "invalid structured output" in outcome.message
    assert len(wire.requests) == 3
    assert TICKET not in outcome.message


async def test_calls_run_concurrently_within_the_bound(wire: WireServer) -> None:
    def slow(body: dict[str, Any]) -> Reply:
        reply = schema_filler(body)
        reply.delay_s = 0.2
        return reply

    wire.responder = slow
    started = time.monotonic()
    results = await llm(wire, concurrency=3).score_many(
        [f"ticket {i}" for i in range(6)], rubric(), []
    )
    elapsed = time.monotonic() - started
    assert len(results) == 6
    assert elapsed >= 0.4  # two waves of three at least, not all six at once
    received = sorted(r.received_at for r in wire.requests)
    # the first three were in flight together (each takes 0.2 s), the fourth waited for a slot;
    # timestamps, not wall-clock totals, so a loaded machine cannot fail it
    assert received[2] - received[0] < 0.2
    assert received[3] - received[0] >= 0.15


async def test_results_keep_ticket_order(wire: WireServer) -> None:
    def by_ticket(body: dict[str, Any]) -> Reply:
        user = body["messages"][-1]["content"]
        high = 0.9 if "urgent" in user else 0.1
        return json_reply(answer(priority=(high, 1 - high)))

    wire.responder = by_ticket
    results = await llm(wire).score_many(["urgent one", "calm one"], rubric(), [])
    assert results[0].axes["priority"].raw["high"] == 0.9
    assert results[1].axes["priority"].raw["high"] == 0.1


@pytest.mark.parametrize(
    ("status", "expected"), [(401, ProviderError), (500, ProviderUnavailableError)]
)
async def test_one_tickets_failure_stays_in_its_slot(
    wire: WireServer, status: int, expected: type[Exception]
) -> None:
    def by_ticket(body: dict[str, Any]) -> Reply:
        # the bad ticket fails on every try (retries and all); the others are answered
        if "bad ticket" in body["messages"][-1]["content"]:
            return error(status)
        return schema_filler(body)

    wire.responder = by_ticket
    outcomes = await llm(wire).score_many(["good one", "bad ticket", "good two"], rubric(), [])
    assert [type(o) for o in outcomes] == [ScoreResult, expected, ScoreResult]
    assert "bad ticket" not in str(outcomes[1])


class BuggyClient(ProviderClient):
    """The real client, except that a ticket that says "trips a bug" meets a bug in it (an exception
    that is not a GatewayError) once ``other_sent`` says the other ticket's call is in flight."""

    def __init__(self, config: ProviderSettings, other_sent: asyncio.Event) -> None:
        super().__init__(config)
        self._other_sent = other_sent

    async def structured(  # type: ignore[override]
        self, messages: Sequence[ChatMessage], response_model: type[M], **options: Any
    ) -> Structured[M]:
        if "trips a bug" in messages[-1].content:
            async with asyncio.timeout(5):
                await self._other_sent.wait()
            raise RuntimeError("bug in the client")
        return await super().structured(messages, response_model, **options)


async def test_a_bug_still_cancels_the_batch(wire: WireServer) -> None:
    """Only GatewayErrors are per-ticket outcomes; anything else is not swallowed."""
    loop, sent = asyncio.get_running_loop(), asyncio.Event()

    def slow(body: dict[str, Any]) -> Reply:  # runs in the server's thread
        loop.call_soon_threadsafe(sent.set)
        return Reply(body={}, delay_s=2.0)

    wire.script(slow)  # the other ticket's answer: long in coming
    client = BuggyClient(provider(wire).config, other_sent=sent)
    scorer = LLMScorer(client, load_prompt("classify.v2"))
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="bug in the client"):
        await scorer.score_many(["a slow ticket", "this ticket trips a bug"], rubric(), [])
    assert len(wire.requests) == 1  # the other ticket's call was in flight...
    assert time.monotonic() - started < 1.5  # ... and was cancelled, not waited for


async def test_variant_overrides_model_and_prompt(wire: WireServer) -> None:
    wire.responder = schema_filler
    base = llm(wire)
    other = base.variant(model="openai/other-model", prompt=load_prompt("classify.v1"))
    (result,) = await other.score_many([TICKET], rubric(), [])
    assert wire.requests[0].body["model"] == "other-model"
    assert result.prompt is not None and result.prompt.startswith("classify.v1@")
    assert other.fingerprint != base.fingerprint


async def test_variant_refuses_a_prompt_of_the_wrong_kind(wire: WireServer) -> None:
    with pytest.raises(InvalidRequestError, match="needs a structured"):
        llm(wire).variant(prompt=load_prompt("label_code.v1"))
    with pytest.raises(InvalidRequestError, match="needs a label_code"):
        logprob(wire).variant(prompt=load_prompt("classify.v2"))


async def test_logprob_variant_overrides_the_model(wire: WireServer) -> None:
    wire.script(logprobs_reply([("B", -0.1), ("A", -2.5)]))
    base = logprob(wire)
    other = base.variant(model="openai/other-model")
    (result,) = await other.score_many([TICKET], rubric(), ["priority"])
    assert wire.requests[0].body["model"] == "other-model"
    assert isinstance(result, ScoreResult) and result.axes["priority"].scores["low"] > 0.8
    assert (other.model, other.prompt) == ("openai/other-model", base.prompt)
    assert other.fingerprint != base.fingerprint


# --------------------------------------------------------------------------- logprob scorer


async def test_logprobs_map_to_the_right_distribution(wire: WireServer) -> None:
    wire.script(
        logprobs_reply([("B", math.log(0.6)), ("A", math.log(0.3)), ("C", math.log(0.1))]),
        logprobs_reply([("A", math.log(0.8)), (" A", math.log(0.1)), ("B", math.log(0.05))]),
    )
    (result,) = await logprob(wire, deadline_s=10).score_many(
        [TICKET], rubric(), ["category", "priority"]
    )
    assert result.axes["category"].scores == pytest.approx(
        {"billing": 0.3, "technical": 0.6, "Account Access": 0.1}
    )
    # "A" and " A" are one answer; the scores are the renormalised distribution
    assert result.axes["priority"].scores == pytest.approx({"high": 0.9 / 0.95, "low": 0.05 / 0.95})
    assert result.axes["category"].raw == result.axes["category"].scores
    assert result.scorer == "logprob"
    assert result.usage is not None and result.usage.prompt_tokens == 22  # two axis calls
    bodies = [r.body for r in wire.requests]
    assert all(b["logprobs"] is True and b["max_tokens"] == 1 for b in bodies)
    category_prompt = next(b for b in bodies if "A: billing" in b["messages"][0]["content"])
    assert TICKET in category_prompt["messages"][1]["content"]


async def test_no_label_code_in_the_answer_is_an_error(wire: WireServer) -> None:
    wire.script(logprobs_reply([("The", -0.1), ("I", -2.0)]))
    (outcome,) = await logprob(wire).score_many([TICKET], rubric(), ["category"])
    assert isinstance(outcome, ProviderError)
    assert "no label code" in outcome.message


async def test_check_refuses_a_model_without_logprobs(wire: WireServer) -> None:
    wire.script(text("A"))  # a plain answer: this server ignores logprobs=true
    with pytest.raises(ConfigError, match="no logprobs"):
        await logprob(wire).check()
    assert wire.requests[0].body["logprobs"] is True


async def test_check_refuses_a_model_that_rejects_logprobs(wire: WireServer) -> None:
    wire.script(error(400, "logprobs are not supported with this model"))
    with pytest.raises(ConfigError, match="logprob check"):
        await logprob(wire).check()


async def test_check_refuses_a_provider_without_logprobs_before_any_call(
    wire: WireServer,
) -> None:
    scorer = LogprobScorer(
        ProviderClient(ProviderSettings(model="anthropic/claude-3-5-haiku-latest", retry=FAST)),
        load_prompt("label_code.v1"),
    )
    with pytest.raises(ConfigError, match="does not support logprobs"):
        await scorer.check()
    assert wire.requests == []


async def test_check_accepts_a_model_with_logprobs(wire: WireServer) -> None:
    wire.script(logprobs_reply([("A", -0.01), ("B", -4.6)]))
    await logprob(wire).check()


def test_code_distribution_floors_missing_codes() -> None:
    top = [TokenLogprob(token="A", logprob=math.log(0.7)), TokenLogprob(token="B", logprob=-2.0)]
    dist = code_distribution(top, ["A", "B", "C", "D"])
    assert dist is not None
    assert math.isclose(sum(dist.values()), 1.0)
    assert dist["A"] > dist["B"] > dist["C"] == dist["D"] > 0
    # the missing codes share what the top-k left, each capped by the least likely token shown
    leftover = 1 - 0.7 - math.exp(-2.0)
    assert dist["C"] / dist["A"] == pytest.approx((leftover / 2) / 0.7)


def test_code_distribution_never_returns_zero() -> None:
    top = [TokenLogprob(token="A", logprob=0.0)]  # the model is certain
    dist = code_distribution(top, ["A", "B"])
    assert dist is not None and dist["B"] >= MIN_PROBABILITY / 2


def test_code_distribution_without_codes_is_none() -> None:
    assert code_distribution([TokenLogprob(token="Hello", logprob=-0.1)], ["A", "B"]) is None
    assert code_distribution([], ["A", "B"]) is None


async def test_concurrent_scoring_shares_one_loop(wire: WireServer) -> None:
    wire.responder = schema_filler
    scorer = llm(wire)
    batches = await asyncio.gather(*(scorer.score_many([f"t{i}"], rubric(), []) for i in range(5)))
    scored = [result for (result,) in batches if isinstance(result, ScoreResult)]
    assert len(scored) == 5 == len(wire.requests)
    dumped = json.loads(json.dumps([result.model_dump() for result in scored]))
    assert [set(result["axes"]) for result in dumped] == [{"category", "priority"}] * 5

"""CascadeScorer, the local fallback and the scorer factory, with fakes at the Scorer seam."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import ValidationError
from support.rubrics import rubric_of
from support.settings import make_settings
from support.wire_server import WireServer, schema_filler

from gateway.config import ProviderSettings, RetryPolicy, ScoringSettings, Settings
from gateway.errors import (
    ConfigError,
    GatewayError,
    InvalidRequestError,
    ProviderError,
    ProviderUnavailableError,
)
from gateway.providers import ProviderClient, load_prompt
from gateway.rubrics import RubricSet, Thresholds
from gateway.scoring import (
    LOCAL_FALLBACK,
    AxisScores,
    CascadeScorer,
    LocalFallbackScorer,
    Overridable,
    ScoreOutcome,
    Scorer,
    ScoreResult,
    build_scorer,
    check_scorer,
)
from gateway.scoring.blend import BlendScorer
from gateway.scoring.llm import LLMScorer
from gateway.scoring.logprob import LogprobScorer

SURE = "my invoice charged me twice"  # the fake local scorer is confident about this one
UNSURE = "something odd happened"  # ... and not about this one


def rubric(review: float = 0.6) -> RubricSet:
    return rubric_of(
        {
            "category": {"billing": "Is this about a charge or invoice?", "technical": "A bug?"},
            "priority": {"high": "Is it urgent?", "low": "Can it wait?"},
        },
        thresholds=Thresholds(auto_route=max(0.85, review), review=review),
    )


class FakeScorer:
    """Implements the Scorer Protocol; records what it was given and answers from a table."""

    def __init__(
        self,
        name: str,
        confidence: dict[str, float] | None = None,
        fail: Exception | None = None,
        fail_on: dict[str, GatewayError] | None = None,
    ) -> None:
        self._name = name
        self.confidence = confidence or {}
        self.fail = fail
        self.fail_on = fail_on or {}  # per-ticket failures, returned in the ticket's slot
        self.calls: list[tuple[list[str], list[str]]] = []
        self.checked = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> str:
        return f"{self._name}-model"

    @property
    def prompt(self) -> str | None:
        return None

    @property
    def fingerprint(self) -> str:
        return f"{self._name}-fp"

    @property
    def batches(self) -> bool:
        return self._name == "local"

    async def check(self) -> None:
        self.checked += 1

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.calls.append((list(texts), list(axes)))
        if self.fail is not None:
            raise self.fail
        results: list[ScoreOutcome] = []
        for text in texts:
            if text in self.fail_on:
                results.append(self.fail_on[text])
                continue
            top = self.confidence.get(text, 0.95)
            axes_out = {}
            for axis in axes:
                first, second = rubric.axes[axis].names[:2]
                scores = {first: top, second: 1 - top}
                axes_out[axis] = AxisScores(raw=scores, scores=scores)
            results.append(ScoreResult(axes=axes_out, scorer=self._name, model=self.model))
        return results


def local() -> FakeScorer:
    return FakeScorer("local", {SURE: 0.92, UNSURE: 0.41})


# --------------------------------------------------------------------------- cascade


def test_fakes_and_cascade_implement_the_protocol() -> None:
    cascade = CascadeScorer(local(), FakeScorer("llm"))
    assert isinstance(local(), Scorer)
    assert isinstance(cascade, Scorer)
    assert isinstance(LocalFallbackScorer(FakeScorer("llm"), local()), Scorer)


async def test_llm_only_for_the_low_confidence_ticket() -> None:
    first, second = local(), FakeScorer("llm")
    cascade = CascadeScorer(first, second)
    results = await cascade.score_many([SURE, UNSURE, SURE], rubric(), ["category", "priority"])
    assert first.calls == [([SURE, UNSURE, SURE], ["category", "priority"])]
    assert second.calls == [([UNSURE], ["category", "priority"])]
    assert [r.scorer for r in results] == ["local", "llm", "local"]
    assert results[1].axes["category"].scores["billing"] == 0.95  # the llm's answer
    assert cascade.stats.tickets == 3
    assert cascade.stats.reached_second == 1
    assert cascade.stats.share_second == pytest.approx(1 / 3)


async def test_confident_batch_never_reaches_the_llm() -> None:
    second = FakeScorer("llm")
    results = await CascadeScorer(local(), second).score_many([SURE], rubric(), [])
    assert second.calls == []
    assert results[0].scorer == "local"


async def test_gate_uses_the_axis_threshold() -> None:
    second = FakeScorer("llm")
    cascade = CascadeScorer(local(), second)
    await cascade.score_many([SURE], rubric(review=0.95), ["category"])
    assert second.calls == [([SURE], ["category"])]


async def test_gate_without_the_primary_axis_uses_the_first_requested() -> None:
    first = FakeScorer("local", {UNSURE: 0.41})
    second = FakeScorer("llm")
    await CascadeScorer(first, second).score_many([UNSURE], rubric(), ["priority"])
    assert second.calls == [([UNSURE], ["priority"])]


async def test_outage_falls_back_to_the_local_answer_when_configured() -> None:
    second = FakeScorer("llm", fail=ProviderUnavailableError("down"))
    counted: list[int] = []
    cascade = CascadeScorer(
        local(), second, fallback_to_local=True, on_local_fallback=counted.append
    )
    results = await cascade.score_many([SURE, UNSURE], rubric(), [])
    assert [r.scorer for r in results] == ["local", LOCAL_FALLBACK]
    assert results[1].axes["category"].scores["billing"] == 0.41  # the local answer
    assert cascade.stats.local_fallbacks == 1
    assert counted == [1]


async def test_outage_is_an_error_unless_configured() -> None:
    second = FakeScorer("llm", fail=ProviderUnavailableError("down"))
    with pytest.raises(ProviderUnavailableError):
        await CascadeScorer(local(), second).score_many([UNSURE], rubric(), [])


async def test_other_provider_errors_are_never_masked() -> None:
    second = FakeScorer("llm", fail=ProviderError("401"))
    cascade = CascadeScorer(local(), second, fallback_to_local=True)
    with pytest.raises(ProviderError):
        await cascade.score_many([UNSURE], rubric(), [])


async def test_local_fallback_wrapper() -> None:
    primary = FakeScorer("llm", fail=ProviderUnavailableError("down"))
    fallback = local()
    counted: list[int] = []
    wrapped = LocalFallbackScorer(primary, fallback, on_local_fallback=counted.append)
    results = await wrapped.score_many([UNSURE], rubric(), ["category"])
    assert [r.scorer for r in results] == [LOCAL_FALLBACK]
    assert fallback.calls == [([UNSURE], ["category"])]
    assert wrapped.local_fallbacks == 1
    assert counted == [1]
    assert (wrapped.name, wrapped.model) == ("llm", "llm-model")


async def test_cascade_checks_both_scorers() -> None:
    first, second = local(), FakeScorer("llm")
    await check_scorer(CascadeScorer(first, second))
    assert (first.checked, second.checked) == (1, 1)


UNSURE_TOO = "another odd thing"


async def test_one_tickets_outage_falls_back_alone() -> None:
    first = FakeScorer("local", {SURE: 0.92, UNSURE: 0.41, UNSURE_TOO: 0.45})
    second = FakeScorer("llm", fail_on={UNSURE: ProviderUnavailableError("down")})
    counted: list[int] = []
    cascade = CascadeScorer(first, second, fallback_to_local=True, on_local_fallback=counted.append)
    results = await cascade.score_many([SURE, UNSURE, UNSURE_TOO], rubric(), [])
    assert [r.scorer for r in results if isinstance(r, ScoreResult)] == [
        "local",
        LOCAL_FALLBACK,
        "llm",
    ]
    assert cascade.stats.local_fallbacks == 1
    assert counted == [1]


async def test_one_tickets_provider_error_stays_in_its_slot() -> None:
    first = FakeScorer("local", {SURE: 0.92, UNSURE: 0.41, UNSURE_TOO: 0.45})
    refused = ProviderError("401")
    second = FakeScorer("llm", fail_on={UNSURE: refused})
    results = await CascadeScorer(first, second, fallback_to_local=True).score_many(
        [SURE, UNSURE, UNSURE_TOO], rubric(), []
    )
    assert results[1] is refused  # never masked by the local answer
    assert [r.scorer for r in (results[0], results[2]) if isinstance(r, ScoreResult)] == [
        "local",
        "llm",
    ]


async def test_a_first_scorer_error_never_reaches_the_second() -> None:
    broken = ProviderError("first failed")
    first = FakeScorer("local", {SURE: 0.92}, fail_on={UNSURE: broken})
    second = FakeScorer("llm")
    results = await CascadeScorer(first, second).score_many([SURE, UNSURE], rubric(), [])
    assert results[1] is broken
    assert second.calls == []


async def test_local_fallback_wrapper_rescores_only_the_tickets_that_met_an_outage() -> None:
    primary = FakeScorer("llm", fail_on={UNSURE: ProviderUnavailableError("down")})
    fallback = local()
    wrapped = LocalFallbackScorer(primary, fallback)
    results = await wrapped.score_many([SURE, UNSURE], rubric(), ["category"])
    assert [r.scorer for r in results if isinstance(r, ScoreResult)] == ["llm", LOCAL_FALLBACK]
    assert fallback.calls == [([UNSURE], ["category"])]
    assert wrapped.local_fallbacks == 1


async def test_check_skips_a_provider_outage_but_refuses_a_bad_configuration() -> None:
    class Failing(FakeScorer):
        def __init__(self, exc: Exception) -> None:
            super().__init__("llm")
            self.exc = exc

        async def check(self) -> None:
            raise self.exc

    assert await check_scorer(local()) is True
    assert await check_scorer(Failing(ProviderUnavailableError("down"))) is False
    with pytest.raises(ConfigError, match="no logprobs"):
        await check_scorer(Failing(ConfigError("no logprobs")))
    with pytest.raises(ConfigError, match=r"llm scorer .*ValueError: LLM Provider NOT provided"):
        await check_scorer(Failing(ValueError("LLM Provider NOT provided\nlong text")))


# --------------------------------------------------------------------------- with the real llm


def settings(wire: WireServer, **overrides: Any) -> Settings:
    return make_settings(
        provider={"model": "openai/test-model", "api_base": wire.url}, scoring=overrides
    )


def client(wire: WireServer) -> ProviderClient:
    return ProviderClient(
        ProviderSettings(
            model="openai/test-model",
            api_base=wire.url,
            retry=RetryPolicy(max_retries=1, backoff_initial_s=0.001, backoff_max_s=0.002),
        )
    )


async def test_cascade_calls_the_llm_only_for_the_low_confidence_ticket(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # keys are read the way litellm reads them
    wire.responder = schema_filler
    llm = LLMScorer(client(wire), load_prompt("classify.v2"))
    cascade = CascadeScorer(local(), llm)
    results = await cascade.score_many([SURE, UNSURE], rubric(), [])
    (request,) = wire.requests
    assert UNSURE in request.text()
    assert SURE not in request.text()
    assert request.headers["authorization"] == "Bearer sk-test"
    assert [r.scorer for r in results] == ["local", "llm"]
    assert results[1].model == "openai/test-model"


# --------------------------------------------------------------------------- factory


def test_default_scorer_is_local_without_a_model() -> None:
    fake = local()
    assert Settings().scorer_kind == "local"
    assert build_scorer(Settings(), fake) is fake


def test_default_scorer_is_cascade_with_a_model(wire: WireServer) -> None:
    scorer = build_scorer(settings(wire), local())
    assert isinstance(scorer, CascadeScorer)
    assert isinstance(scorer.second, LLMScorer)
    assert scorer.name == "cascade"
    assert scorer.model == "openai/test-model"
    assert scorer.prompt == load_prompt("classify.v3").ref.tag


@pytest.mark.parametrize(
    ("kind", "fallback", "weight", "expected"),
    [
        ("llm", False, 0.0, LLMScorer),
        ("llm", False, 0.5, BlendScorer),
        ("llm", True, 0.5, LocalFallbackScorer),
        ("logprob", False, 0.0, LogprobScorer),
        ("logprob", False, 0.3, BlendScorer),
        ("cascade", True, 0.5, CascadeScorer),
    ],
)
def test_scorer_by_setting(
    wire: WireServer, kind: str, fallback: bool, weight: float, expected: type
) -> None:
    scorer = build_scorer(
        settings(wire, scorer=kind, fallback_to_local=fallback, local_weight=weight), local()
    )
    assert isinstance(scorer, expected)
    assert scorer.name == kind
    if isinstance(scorer, LocalFallbackScorer):  # the mixture is inside the fallback
        assert isinstance(scorer.primary, BlendScorer)
    if isinstance(scorer, CascadeScorer):
        assert scorer.local_weight == weight


def test_logprob_scorer_gets_a_label_code_prompt(wire: WireServer) -> None:
    scorer = build_scorer(settings(wire, scorer="logprob"), local())
    assert scorer.prompt is not None and scorer.prompt.startswith("label_code.v2@")


def test_misconfiguration_is_reported_at_start_up(wire: WireServer) -> None:
    with pytest.raises(ValidationError, match="GATEWAY_MODEL"):  # the settings refuse it
        Settings(scoring=ScoringSettings(scorer="llm"))
    with pytest.raises(ConfigError, match="GATEWAY_PROMPT"):
        build_scorer(settings(wire, prompt="classify.v9"), local())
    with pytest.raises(ConfigError, match="structured"):
        build_scorer(settings(wire, scorer="llm", prompt="label_code.v1"), local())


async def test_factory_reports_provider_events_to_the_observer(
    wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.server.metrics import Metrics

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = schema_filler
    metrics = Metrics()
    scorer = build_scorer(settings(wire, scorer="llm"), local(), metrics)
    await scorer.score_many([UNSURE], rubric(), [])
    assert metrics.registry.get_sample_value("gateway_provider_calls_total", {"outcome": "ok"}) == 1
    assert metrics.registry.get_sample_value("gateway_provider_retries_total") == 0


@pytest.mark.parametrize(
    ("kind", "fallback"), [("cascade", False), ("llm", True), ("llm", False), ("logprob", False)]
)
def test_wrapped_scorers_pass_overrides_to_the_llm(
    wire: WireServer, kind: str, fallback: bool
) -> None:
    scorer = build_scorer(settings(wire, scorer=kind, fallback_to_local=fallback), local())
    assert isinstance(scorer, Overridable)
    served, asked = (
        ("label_code.v2", "label_code.v1") if kind == "logprob" else ("classify.v3", "classify.v1")
    )
    other = scorer.variant(model="openai/other", prompt=load_prompt(asked))
    assert type(other) is type(scorer)
    assert other.model == "openai/other"
    assert other.prompt is not None and other.prompt.startswith(f"{asked}@")
    assert other.fingerprint != scorer.fingerprint
    assert (scorer.model, scorer.prompt) == ("openai/test-model", load_prompt(served).ref.tag)
    # the embedded model's share (0.5 by default) goes with the variant
    if isinstance(other, CascadeScorer):
        assert other.local_weight == 0.5
    else:
        inner = other.primary if isinstance(other, LocalFallbackScorer) else other
        assert isinstance(inner, BlendScorer) and inner.weight == 0.5


def test_a_scorer_without_variants_refuses_overrides() -> None:
    with pytest.raises(InvalidRequestError, match="takes no model/prompt overrides"):
        CascadeScorer(local(), FakeScorer("llm")).variant(model="openai/other")


def test_fingerprint_changes_with_the_model_chain(wire: WireServer) -> None:
    one = build_scorer(settings(wire, scorer="llm"), local())
    chain = make_settings(
        provider={
            "model": "openai/test-model",
            "api_base": wire.url,
            "fallback_models": ["openai/b"],
        },
        scoring={"scorer": "llm"},
    )
    two = build_scorer(chain, local())
    assert one.fingerprint != two.fingerprint
    assert one.prompt == two.prompt

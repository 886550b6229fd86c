"""An LLM's distribution mixed with the embedded model's (scoring.blend, issue 17 item 4): the
mixture itself, the wrapper around the llm/logprob scorers and inside the local fallback, the
cascade's sent tickets, the calibration key, and the response through the app against the
OpenAI-wire server with the real embedded model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.rubrics import rubric_of
from support.settings import make_settings
from support.wire_server import WireServer, schema_filler, wire_client

from gateway.config import PROJECT_ROOT, RetryPolicy
from gateway.errors import GatewayError, ProviderError, ProviderUnavailableError
from gateway.pipeline.calibration import Calibration, CalibrationKey
from gateway.providers import load_prompt
from gateway.rubrics import RubricSet, Thresholds, load_rubric_file
from gateway.schemas import Evidence
from gateway.scoring import (
    AxisScores,
    CascadeScorer,
    LocalFallbackScorer,
    ScoreOutcome,
    ScoreResult,
    build_local_scorer,
)
from gateway.scoring.blend import BlendScorer, mixed
from gateway.scoring.llm import LLMScorer
from gateway.server import create_app

SURE, UNSURE = "my invoice charged me twice", "something odd happened"


def rubric() -> RubricSet:
    return rubric_of(
        {
            "category": {"billing": "A charge?", "technical": "A bug?", "access": "Logging in?"},
            "priority": {"high": "Urgent?", "low": "Can it wait?"},
        },
        thresholds=Thresholds(auto_route=0.85, review=0.6),
    )


def axis(scores: dict[str, float], label: str | None = None, source: str = "llm") -> AxisScores:
    evidence = Evidence(source=source, label=label) if label else None  # type: ignore[arg-type]
    return AxisScores(raw={k: v / 2 for k, v in scores.items()}, scores=scores, evidence=evidence)


LLM = ScoreResult(
    axes={
        "category": axis({"billing": 0.98, "technical": 0.01, "access": 0.01}, "billing"),
        "priority": axis({"high": 0.9, "low": 0.1}, "high"),
    },
    scorer="llm",
    model="openai/m",
    prompt="classify.v3@1",
)
LOCAL = ScoreResult(
    axes={
        "category": axis(
            {"billing": 0.1, "technical": 0.8, "access": 0.1}, "technical", "embedding"
        ),
        "priority": axis({"high": 0.7, "low": 0.3}, "high", "embedding"),
    },
    scorer="local",
    model="local/minilm",
)


# --------------------------------------------------------------------------- the mixture


def test_scores_and_raw_are_mixed_at_the_weight() -> None:
    out = mixed(LLM, LOCAL, 0.5)
    assert out.axes["category"].scores == pytest.approx(
        {"billing": 0.54, "technical": 0.405, "access": 0.055}
    )
    assert sum(out.axes["category"].scores.values()) == pytest.approx(1.0)
    assert out.axes["category"].raw == pytest.approx(
        {"billing": 0.27, "technical": 0.2025, "access": 0.0275}
    )
    assert mixed(LLM, LOCAL, 0.25).axes["priority"].scores == pytest.approx(
        {"high": 0.85, "low": 0.15}
    )
    # still the LLM's answer, saying what was mixed in
    assert (out.scorer, out.model, out.prompt, out.local_weight) == (
        "llm",
        "openai/m",
        "classify.v3@1",
        0.5,
    )


def test_a_sure_wrong_answer_loses_its_confidence_and_agreement_keeps_it() -> None:
    out = mixed(LLM, LOCAL, 0.5)
    assert max(out.axes["category"].scores.values()) < 0.6  # the two disagree: review, not auto
    assert out.axes["priority"].scores["high"] == pytest.approx(0.8)  # they agree


def test_the_evidence_is_of_the_label_that_won() -> None:
    assert mixed(LLM, LOCAL, 0.5).axes["category"].evidence == LLM.axes["category"].evidence
    flipped = mixed(LLM, LOCAL, 0.7).axes["category"]  # 0.7 * 0.8 + 0.3 * 0.01 > billing
    assert max(flipped.scores, key=flipped.scores.__getitem__) == "technical"
    assert flipped.evidence == LOCAL.axes["category"].evidence
    nobody = LOCAL.model_copy(
        update={"axes": {**LOCAL.axes, "category": axis(LOCAL.axes["category"].scores)}}
    )
    assert mixed(LLM, nobody, 0.7).axes["category"].evidence is None


def test_an_axis_the_embedded_model_did_not_answer_alike_is_left_as_the_llm_gave_it() -> None:
    other = LOCAL.model_copy(update={"axes": {"category": axis({"billing": 0.5, "x": 0.5})}})
    out = mixed(LLM, other, 0.5)
    assert out.axes == LLM.axes
    assert mixed(LLM, LOCAL, 0.0) is LLM


# --------------------------------------------------------------------------- the wrapper


class Fake:
    """A Scorer answering ``result`` for every text, or the error scripted for a text."""

    def __init__(
        self,
        name: str,
        result: ScoreResult,
        fail: Exception | None = None,
        fail_on: dict[str, GatewayError] | None = None,
    ) -> None:
        self.name, self.model, self.prompt = name, result.model, result.prompt
        self.fingerprint, self.batches = f"{name}-fp", name == "local"
        self.result, self.fail, self.fail_on = result, fail, fail_on or {}
        self.calls: list[list[str]] = []

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.calls.append(list(texts))
        if self.fail is not None:
            raise self.fail
        return [self.fail_on.get(t, self.result) for t in texts]


async def test_the_wrapper_mixes_each_answer_and_keeps_a_failed_ticket_s_error() -> None:
    bad = ProviderError("invalid output")
    llm, local = Fake("llm", LLM, fail_on={UNSURE: bad}), Fake("local", LOCAL)
    blend = BlendScorer(llm, local, 0.5)
    assert (blend.name, blend.model, blend.prompt) == ("llm", "openai/m", "classify.v3@1")
    out = await blend.score_many([SURE, UNSURE], rubric(), [])
    assert local.calls == [[SURE, UNSURE]]  # one batched call of the embedded model
    assert isinstance(out[0], ScoreResult) and out[0].local_weight == 0.5
    assert out[0].axes["category"].scores == mixed(LLM, LOCAL, 0.5).axes["category"].scores
    assert out[1] is bad


def test_the_weight_is_in_the_fingerprint_and_bounded() -> None:
    llm, local = Fake("llm", LLM), Fake("local", LOCAL)
    prints = {BlendScorer(llm, local, w).fingerprint for w in (0.3, 0.5)}
    assert len(prints) == 2 and llm.fingerprint not in prints
    for weight in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="local_weight"):
            BlendScorer(llm, local, weight)


async def test_an_outage_is_answered_by_the_embedded_model_alone_not_mixed() -> None:
    llm = Fake("llm", LLM, fail=ProviderUnavailableError("down"))
    local = Fake("local", LOCAL)
    served = LocalFallbackScorer(BlendScorer(llm, local, 0.5), local)
    (out,) = await served.score_many([SURE], rubric(), [])
    assert isinstance(out, ScoreResult)
    assert (out.fallback, out.local_weight) == (True, None)
    assert out.axes == LOCAL.axes


async def test_the_cascade_mixes_only_the_tickets_it_sends() -> None:
    # under the rubric's review threshold (0.6) on the category axis: sent to the LLM
    doubtful = {"billing": 0.3, "technical": 0.5, "access": 0.2}
    unsure_local = LOCAL.model_copy(update={"axes": {**LOCAL.axes, "category": axis(doubtful)}})

    class Local(Fake):
        async def score_many(
            self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
        ) -> list[ScoreOutcome]:
            return [LOCAL if t == SURE else unsure_local for t in texts]

    llm = Fake("llm", LLM)
    cascade = CascadeScorer(Local("local", LOCAL), llm, local_weight=0.5)
    sure, unsure = await cascade.score_many([SURE, UNSURE], rubric(), [])
    assert llm.calls == [[UNSURE]]
    assert isinstance(sure, ScoreResult) and sure == LOCAL
    assert isinstance(unsure, ScoreResult) and unsure == mixed(LLM, unsure_local, 0.5)
    assert unsure.axes["category"].scores["billing"] == pytest.approx(0.64)
    unmixed = CascadeScorer(Local("local", LOCAL), llm)
    assert unmixed.fingerprint != cascade.fingerprint


# --------------------------------------------------------------------------- calibration key


def test_a_calibration_is_only_applied_at_the_weight_it_was_fitted_for() -> None:
    base = {"fingerprint": "f" * 64, "scorer": "llm", "model": "openai/m", "prompt": "p"}
    unmixed, half = CalibrationKey(**base), CalibrationKey(**base, local_weight=0.5)
    assert unmixed != half != CalibrationKey(**base, local_weight=0.3)
    # an unmixed calibration keeps the id it had before the key grew the field
    cal = Calibration(key=unmixed, temperature=1.5)
    before = {"key": {**base, "axis": "category"}, "t": 1.5, "thr": {}}
    payload = json.dumps(before, sort_keys=True).encode()
    assert cal.id == "cal-" + hashlib.sha256(payload).hexdigest()[:12]
    assert Calibration(key=half, temperature=1.5).id != cal.id


# --------------------------------------------------------------------------- through the app


@pytest.mark.parametrize("weight", [0.0, 0.5])
async def test_the_response_is_the_mixture_and_says_so(
    tmp_path: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch, weight: float
) -> None:
    """GATEWAY_SCORER=llm with the real embedded model beside a wire-format provider: the
    response's scores are the llm scorer's mixed with the embedded model's at the weight."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    wire.responder = schema_filler
    fast = RetryPolicy(max_retries=0)
    settings = make_settings(
        cache={"enabled": False},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        provider={"model": "openai/test-model", "api_base": wire.url, "retry": fast},
        redaction={"enabled": False},
        store={"enabled": False},
        scoring={"scorer": "llm", "local_weight": weight},
    )
    ticket = "I was charged twice this month, please refund the second payment"
    with TestClient(create_app(settings, wait=True)) as client:
        resp = client.post("/classify", json={"text": ticket, "rubric": "support"})
    rubric_set = load_rubric_file(PROJECT_ROOT / "rubrics" / "support.yaml")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["scorer"] == "llm"
    assert body["local_weight"] == (weight or None)
    llm = LLMScorer(wire_client(wire, retry=fast), load_prompt("classify.v3"))
    (alone,) = await llm.score_many([ticket], rubric_set, ["category"])
    (local,) = await build_local_scorer(settings.local).score_many(
        [ticket], rubric_set, ["category"]
    )
    assert isinstance(alone, ScoreResult) and isinstance(local, ScoreResult)
    theirs, ours = alone.axes["category"].scores, local.axes["category"].scores
    expected = {k: (1 - weight) * theirs[k] + weight * ours[k] for k in theirs}
    assert body["scores"] == pytest.approx(expected, abs=1e-4)
    assert theirs != pytest.approx(ours, abs=1e-2)  # the two differ: the check can fail

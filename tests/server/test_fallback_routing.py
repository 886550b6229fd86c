"""A ticket the embedded model answered because the provider was down is marked and routed as a
fallback on every axis, not only the primary one (issue 17, item 7): through the app, with the
real fallback wrappers (LocalFallbackScorer, CascadeScorer) around fakes at the Scorer seam."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.settings import make_settings

from gateway.config import PROJECT_ROOT, Floors
from gateway.errors import ProviderUnavailableError
from gateway.pipeline import decide_axis, decide_ticket
from gateway.rubrics import RubricSet, Thresholds
from gateway.scoring import (
    AxisScores,
    CascadeScorer,
    LocalFallbackScorer,
    ScoreOutcome,
    Scorer,
    ScoreResult,
)
from gateway.server import create_app

TICKET = "Hello, a question about my account settings please."


class Confident:
    """A fake embedded model: per axis, its first label at ``top`` (default 0.97)."""

    name, prompt, fingerprint, batches = "local", None, "confident", False
    model = "fake/local"

    def __init__(self, top: dict[str, float] | None = None) -> None:
        self.top = top or {}

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        chosen = rubric.select_axes(list(axes) or None)
        out: list[ScoreOutcome] = []
        for _ in texts:
            result: dict[str, AxisScores] = {}
            for axis in chosen:
                names = rubric.axes[axis].names
                top = self.top.get(axis, 0.97)
                rest = (1 - top) / (len(names) - 1)
                scores = {n: top if i == 0 else rest for i, n in enumerate(names)}
                result[axis] = AxisScores(raw=dict(scores), scores=scores)
            out.append(ScoreResult(axes=result, scorer=self.name, model=self.model))
        return out


class Down:
    """A provider scorer whose provider is unreachable."""

    name, prompt, fingerprint, batches, model = "llm", "p", "down", False, "openai/down"

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        return [ProviderUnavailableError("every model failed")] * len(texts)


def classify(tmp_path: Path, scorer: Scorer) -> dict[str, object]:
    settings = make_settings(
        cache={"enabled": False},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        redaction={"enabled": False},
        store={"enabled": False},
    )
    with TestClient(create_app(settings, wait=True, scorer=scorer)) as client:
        resp = client.post("/classify", json={"text": TICKET, "rubric": "support"})
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def test_without_an_outage_every_axis_auto_routes(tmp_path: Path) -> None:
    body = classify(tmp_path, Confident())  # the control: the same scores, no fallback
    assert body["decision"] == "auto_route" and body["fallback"] is False
    axes = body["axes"]
    assert isinstance(axes, dict) and axes
    assert {a["decision"] for a in axes.values()} == {"auto_route"}
    assert {a["fallback"] for a in axes.values()} == {False}


@pytest.mark.parametrize(
    "scorer",
    [
        LocalFallbackScorer(Down(), Confident()),
        # the cascade's gate sends the unsure ticket to the LLM; the local answer stands in,
        # sure of every other axis: exactly the answer that auto-routed before
        CascadeScorer(Confident({"category": 0.5}), Down(), fallback_to_local=True),
    ],
    ids=["llm-with-local-fallback", "cascade"],
)
def test_every_axis_of_a_fallback_answer_is_marked_and_never_auto_routed(
    tmp_path: Path, scorer: Scorer
) -> None:
    body = classify(tmp_path, scorer)
    assert body["fallback"] is True
    assert body["decision"] != "auto_route"
    axes = body["axes"]
    assert isinstance(axes, dict) and axes  # priority (and any other axis) besides category
    for name, axis in axes.items():
        assert axis["fallback"] is True, name
        assert axis["decision"] != "auto_route", name
        if axis["within"] is not None:  # a subcategory: decided no surer than its category
            assert axis["decision"] in {"review", "manual"}, name
        elif axis["confidence"] >= 0.85:
            assert axis["decision"] == "review", name
            assert axis["reason"].startswith("provider unavailable, embedded model answered")


def test_decide_axis_routes_a_fallback_axis_to_review() -> None:
    scores = {"a": 0.97, "b": 0.03}
    scored = AxisScores(raw=scores, scores=scores)
    plain = decide_axis("priority", scored, Thresholds(), Floors())
    fallback = decide_axis("priority", scored, Thresholds(), Floors(), fallback=True)
    assert (plain.decision, plain.fallback) == ("auto_route", False)
    assert (fallback.decision, fallback.fallback) == ("review", True)
    # the ticket's decision comes out the same, however the primary axis was decided
    assert decide_ticket(fallback, [], fallback=True)[0] == "review"
    assert decide_ticket(plain, [], fallback=True)[0] == "review"

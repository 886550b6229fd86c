"""Escalation signals: rules on metadata and on answers through the classifier, and the bundled
support rubric's rules on tickets written for them (``tests/fixtures/escalation_tickets.jsonl``,
each with its metadata and the flags, decision and route it must get), through the real
pipeline: Presidio redaction, the embedded model, the rules before and after scoring."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.settings import make_settings

from gateway.config import PROJECT_ROOT
from gateway.pipeline import Classifier, build_classifier
from gateway.redaction import PassThroughRedactor, SpacyModel
from gateway.rubrics import RubricSet, RubricStore
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.scoring import AxisScores, LocalScorer, ScoreOutcome, ScoreResult

TICKETS = [
    json.loads(line)
    for line in (PROJECT_ROOT / "tests" / "fixtures" / "escalation_tickets.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
]

RUBRIC = """\
name: tiers
axes:
  category:
    labels:
      - {name: billing, rubric: Is it about a charge, route: billing-team}
      - {name: technical, rubric: Is it a bug, route: engineering}
  priority:
    labels:
      - {name: critical, rubric: Is it an emergency}
      - {name: high, rubric: Is it urgent}
      - {name: normal, rubric: Is it ordinary}
      - {name: low, rubric: Can it wait}
rules:
  - name: enterprise_billing
    when:
      metadata: {customer_tier: enterprise}
      axis: {category: billing}
    action: review
    raise_to: {priority: high}
    route: enterprise-billing
  - name: repeat_contact
    when: {metadata: {contact_count: {gte: 3}}}
    action: escalate
"""


class PerAxis:
    """A fake scorer whose answer is the same sure distribution on each axis, whatever the text."""

    name, prompt, batches, model, fingerprint = "local", None, False, "fake/axes", "fake/axes"

    def __init__(self, top: dict[str, str]) -> None:
        self.top = top

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        def sure(axis: str) -> AxisScores:
            names = rubric.axes[axis].names
            scores = {n: 0.97 if n == self.top[axis] else 0.03 / (len(names) - 1) for n in names}
            return AxisScores(raw=dict(scores), scores=scores)

        result = ScoreResult(axes={a: sure(a) for a in axes}, scorer=self.name, model=self.model)
        return [result for _ in texts]


def _classifier(tmp_path: Path, top: dict[str, str]) -> Classifier:
    (tmp_path / "tiers.yaml").write_text(RUBRIC)
    return build_classifier(
        make_settings(rubrics={"dir": tmp_path}, cache={"enabled": False}),
        rubrics=RubricStore(tmp_path),
        redactor=PassThroughRedactor(),
        scorer=PerAxis(top),
    )


async def test_a_rule_on_an_answer_runs_after_scoring_and_raises_and_routes(
    tmp_path: Path,
) -> None:
    classifier = _classifier(tmp_path, {"category": "billing", "priority": "low"})
    req = ClassifyRequest(text="a charge", rubric="tiers", metadata={"customer_tier": "Enterprise"})
    resp = await classifier.classify(req)
    (flag,) = resp.flags
    assert flag.rule == "enterprise_billing"
    assert flag.matched_on == ["metadata.customer_tier", "axis.category"]
    assert resp.axes["priority"].top_label == "high"  # raised from the model's "low"
    assert resp.axes["priority"].reason == (
        "rule enterprise_billing (metadata.customer_tier, axis.category) raises priority=high"
    )
    assert resp.decision == "review"  # the model alone would auto-route
    assert resp.route == "enterprise-billing"
    assert resp.reason.endswith("; rule enterprise_billing routes to enterprise-billing")
    # the same ticket from another tier: the model's answer stands
    plain = await classifier.classify(req.model_copy(update={"metadata": {"customer_tier": "pro"}}))
    assert plain.flags == []
    assert (plain.decision, plain.route, plain.axes["priority"].top_label) == (
        "auto_route",
        "billing-team",
        "low",
    )
    # the answer is not billing: the rule does not fire
    technical = _classifier(tmp_path, {"category": "technical", "priority": "low"})
    assert (await technical.classify(req)).flags == []


async def test_an_escalating_metadata_rule_names_itself_in_the_reason(tmp_path: Path) -> None:
    classifier = _classifier(tmp_path, {"category": "technical", "priority": "normal"})
    req = ClassifyRequest(text="still broken", rubric="tiers", metadata={"contact_count": "3"})
    resp = await classifier.classify(req)
    assert resp.decision == "escalate"
    assert resp.reason == "rule repeat_contact (metadata.contact_count) escalates"
    assert "3" not in resp.reason  # names what held, never the value


# --------------------------------------------------------------------------- the fixture


@pytest.fixture(scope="module")
def responses(
    local_scorer: LocalScorer, spacy_model: SpacyModel, tmp_path_factory: pytest.TempPathFactory
) -> list[ClassifyResponse]:
    import asyncio

    settings = make_settings(
        cache={"enabled": False},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        store={"data_dir": tmp_path_factory.mktemp("data")},
    )
    classifier = build_classifier(settings, local=local_scorer, nlp=spacy_model)
    reqs = [
        ClassifyRequest(text=t["text"], rubric="support", metadata=t["metadata"]) for t in TICKETS
    ]
    try:
        outcomes = asyncio.run(classifier.classify_many(reqs))
    finally:
        classifier.close()
    assert all(isinstance(o, ClassifyResponse) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, ClassifyResponse)]


def _outcome(ticket: dict[str, object], resp: ClassifyResponse) -> dict[str, object]:
    """What the fixture states for a ticket, as the pipeline answered it."""
    decision = {"escalate": "escalate", "review": "human", "manual": "human"}.get(resp.decision)
    got: dict[str, object] = {"flags": [f.rule for f in resp.flags]}
    if ticket["decision"] == "model":  # the model decides; no rule may escalate
        got["decision"] = "model" if resp.decision != "escalate" else "escalate"
    else:
        got["decision"] = decision or resp.decision
    if "route" in ticket:
        got["route"] = resp.route
    return got


def test_the_fixture_covers_each_signal_and_near_misses() -> None:
    assert len(TICKETS) >= 30
    assert len({t["id"] for t in TICKETS}) == len(TICKETS)
    fired = {rule for t in TICKETS for rule in t["flags"]}
    signals = {
        "legal_threat",
        "public_complaint",
        "social_media_ticket",
        "executive_complaint",
        "repeat_contact",
        "churn_threat",
        "key_account_churn",
        "security_incident",
        "key_account_critical",
    }
    assert signals <= fired
    assert sum(1 for t in TICKETS if not t["flags"]) >= 10  # near-misses


def test_support_rules_on_the_escalation_tickets(responses: list[ClassifyResponse]) -> None:
    expected = {
        t["id"]: {k: t[k] for k in ("flags", "decision", "route") if k in t} for t in TICKETS
    }
    got = {t["id"]: _outcome(t, r) for t, r in zip(TICKETS, responses, strict=True)}
    wrong = {i: (expected[i], got[i]) for i in expected if expected[i] != got[i]}
    assert wrong == {}


def test_each_fired_rule_is_cited_by_position_never_by_text(
    responses: list[ClassifyResponse],
) -> None:
    for ticket, resp in zip(TICKETS, responses, strict=True):
        text = resp.redacted_text or ""
        for flag in resp.flags:
            if "text" in flag.matched_on:
                assert flag.span is not None, ticket["id"]
                start, end = flag.span
                assert 0 <= start < end <= len(text), ticket["id"]
                matched = text[start:end]
                assert matched not in resp.reason, ticket["id"]
                assert matched not in json.dumps([f.model_dump() for f in resp.flags])
        for flag in resp.flags:
            if flag.action == "escalate":
                assert flag.rule in resp.reason, ticket["id"]
                if flag.span is not None:
                    assert f"text at {flag.span[0]}-{flag.span[1]}" in resp.reason

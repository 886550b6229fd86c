from __future__ import annotations

from gateway.config import Floors
from gateway.pipeline import decide_axis, decide_ticket
from gateway.rubrics import Thresholds
from gateway.schemas import Flag
from gateway.scoring import AxisScores

T = Thresholds(auto_route=0.85, review=0.60)
F = Floors(none_fits=0.30, multi_fit=0.70)  # explicit, independent of defaults


def axis(scores: dict[str, float], raw: dict[str, float]) -> AxisScores:
    return AxisScores(scores=scores, raw=raw)


def test_thresholds_pick_auto_review_manual() -> None:
    raw = {"a": 0.9, "b": 0.2}
    assert decide_axis("c", axis({"a": 0.9, "b": 0.1}, raw), T, F).decision == "auto_route"
    assert decide_axis("c", axis({"a": 0.85, "b": 0.15}, raw), T, F).decision == "auto_route"
    review = decide_axis("c", axis({"a": 0.7, "b": 0.3}, raw), T, F)
    assert review.decision == "review"
    assert review.reason == "top score 0.70 ≥ review 0.60"
    assert decide_axis("c", axis({"a": 0.55, "b": 0.45}, raw), T, F).decision == "manual"


def test_none_fits_when_every_raw_is_low() -> None:
    result = decide_axis("c", axis({"a": 0.9, "b": 0.1}, {"a": 0.2, "b": 0.05}), T, F)
    assert result.none_fits
    assert result.decision == "manual"
    assert "no label fits" in result.reason
    assert result.labels == []


def test_multi_fit_blocks_auto_route_and_lists_labels() -> None:
    result = decide_axis("c", axis({"a": 0.9, "b": 0.1}, {"a": 0.95, "b": 0.8}), T, F)
    assert result.multi_fit
    assert result.decision == "review"
    assert result.labels == ["a", "b"]


def test_rule_force_overrides_the_model() -> None:
    flags = [Flag(rule="outage", action="escalate", forced={"c": "b"})]
    result = decide_axis("c", axis({"a": 0.9, "b": 0.1}, {"a": 0.9, "b": 0.1}), T, F, flags)
    assert result.top_label == "b"
    assert result.forced_by == "outage"
    assert result.decision == "escalate"
    decision, reason = decide_ticket(result, flags)
    assert decision == "escalate"
    assert reason == "rule outage escalates"


def test_review_rule_downgrades_auto_route() -> None:
    primary = decide_axis("c", axis({"a": 0.95, "b": 0.05}, {"a": 0.95, "b": 0.1}), T, F)
    decision, _ = decide_ticket(primary, [Flag(rule="vip", action="review")])
    assert decision == "review"


def test_a_fallback_answer_is_never_auto_routed_but_keeps_an_escalation() -> None:
    sure = decide_axis("c", axis({"a": 0.95, "b": 0.05}, {"a": 0.95, "b": 0.1}), T, F)
    assert decide_ticket(sure, [])[0] == "auto_route"
    decision, reason = decide_ticket(sure, [], fallback=True)
    assert decision == "review"
    assert reason.startswith("provider unavailable, embedded model answered; top score 0.95")
    escalation = [Flag(rule="legal", action="escalate")]
    assert decide_ticket(sure, escalation, fallback=True)[0] == "escalate"

from __future__ import annotations

from pathlib import Path

from gateway.pipeline.rules import apply_rules, matches
from gateway.rubrics import Match, load_rubric_file

SUPPORT = load_rubric_file(Path(__file__).parents[2] / "rubrics" / "support.yaml")


def test_keyword_match_respects_word_boundaries() -> None:
    assert matches(Match(any=("down",)), "the site is down")
    assert not matches(Match(any=("down",)), "download failed")


def test_all_and_regex() -> None:
    m = Match(any=("refund",), all=("order",))
    assert matches(m, "Refund my ORDER")
    assert not matches(m, "refund please")
    assert matches(Match(any=("unauthori[sz]ed",), regex=True), "Unauthorised access")


def test_support_rules_fire_with_forced_outcomes() -> None:
    flags = apply_rules(SUPPORT, "We were hacked, there was unauthorized access to admin")
    assert [f.rule for f in flags] == ["security_incident"]
    assert flags[0].forced == {"category": "technical", "priority": "critical"}
    assert [f.rule for f in apply_rules(SUPPORT, "I'll have my lawyer call you")] == [
        "legal_threat"
    ]
    assert apply_rules(SUPPORT, "Where is my invoice?") == []


def test_forced_outcomes_only_for_axes_asked() -> None:
    (flag,) = apply_rules(SUPPORT, "we have been hacked", ["category"])
    assert flag.forced == {"category": "technical"}

from __future__ import annotations

from pathlib import Path

from gateway.pipeline.rules import apply_rules, matches, settle_rules
from gateway.rubrics import Match, load_rubric_file, parse_rubric

# the fingerprint of the old-style rubric in test_old_style_rules_dump_as_before, computed with
# the loader before rules had `when`, `raise_to` and `route`
OLD_STYLE_FINGERPRINT = "3d7ce89ad5afb86bd0b9550694e5952605ff2d44f383930335529ff42e289cc8"
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


# --------------------------------------------------------------------------- metadata, answers

TIERED = parse_rubric(
    """
name: tiered
axes:
  category:
    labels:
      - {name: billing, rubric: Is it about a charge}
      - {name: technical, rubric: Is it a bug}
  priority:
    labels:
      - {name: critical, rubric: Is it an emergency}
      - {name: high, rubric: Is it urgent}
      - {name: normal, rubric: Is it ordinary}
      - {name: low, rubric: Can it wait}
rules:
  - name: repeat
    when: {metadata: {contact_count: {gte: 3}}}
    action: escalate
    raise_to: {priority: high}
  - name: vip_billing
    when:
      metadata: {tier: [enterprise, strategic]}
      axis: {category: billing}
    action: review
    route: vip-billing
  - name: social
    when:
      any:
        - metadata: {channel: twitter}
        - text: {any: [tweet]}
    route: social-care
  - name: angry_enterprise
    match: {any: [unacceptable]}
    when: {metadata: {tier: enterprise, region: {exists: false}}}
    action: escalate
""",
    "tiered.yaml",
)


def test_metadata_tests_compare_numbers_and_text_any_case() -> None:
    from gateway.pipeline.rules import value_holds
    from gateway.rubrics import ValueTest

    gte3 = ValueTest.model_validate({"gte": 3})
    assert value_holds(gte3, "3") and value_holds(gte3, " 12 ")
    assert not value_holds(gte3, "2") and not value_holds(gte3, "three")
    assert not value_holds(gte3, None) and not value_holds(gte3, "nan")
    tier = ValueTest.model_validate("Enterprise")  # a scalar is eq
    assert value_holds(tier, "enterprise") and not value_holds(tier, "pro")
    assert value_holds(ValueTest.model_validate(3), "3.0")  # numbers compare as numbers
    assert value_holds(ValueTest.model_validate(True), "TRUE")
    one_of = ValueTest.model_validate(["twitter", "facebook"])
    assert value_holds(one_of, "Facebook") and not value_holds(one_of, "email")
    between = ValueTest.model_validate({"gt": 1000, "lte": 5000})
    assert value_holds(between, "5000") and not value_holds(between, "1000")
    missing = ValueTest.model_validate({"exists": False})
    assert value_holds(missing, None) and not value_holds(missing, "eu")
    assert value_holds(ValueTest.model_validate({"ne": "free"}), "pro")


def test_metadata_rules_fire_before_scoring_with_what_held() -> None:
    (flag,) = apply_rules(TIERED, "where is it?", metadata={"contact_count": "4"})
    assert flag.rule == "repeat"
    assert flag.matched_on == ["metadata.contact_count"] and flag.span is None
    assert flag.forced == {}  # raise_to waits for the answer (settle_rules)
    assert apply_rules(TIERED, "where is it?", metadata={"contact_count": "2"}) == []


def test_rules_on_answers_wait_for_them() -> None:
    meta = {"tier": "Strategic"}
    assert apply_rules(TIERED, "a charge", metadata=meta) == []  # needs the category answer
    answers = {"category": "billing", "priority": "normal"}
    (flag,) = settle_rules(TIERED, [], "a charge", meta, answers)
    assert (flag.rule, flag.action, flag.route) == ("vip_billing", "review", "vip-billing")
    assert flag.matched_on == ["metadata.tier", "axis.category"]
    answers["category"] = "technical"
    assert settle_rules(TIERED, [], "a charge", meta, answers) == []
    # an axis not asked is not answered: its test fails
    assert settle_rules(TIERED, [], "a charge", meta, {"priority": "normal"}) == []


def test_any_is_or_and_text_with_metadata_is_and() -> None:
    (by_channel,) = apply_rules(TIERED, "hello", metadata={"channel": "Twitter"})
    assert by_channel.matched_on == ["metadata.channel"]
    (by_text,) = apply_rules(TIERED, "I will tweet this", metadata={"channel": "email"})
    assert by_text.matched_on == ["text"] and by_text.span == (7, 12)
    text = "This is unacceptable"
    (flag,) = apply_rules(TIERED, text, metadata={"tier": "enterprise"})
    assert flag.rule == "angry_enterprise" and flag.span == (8, 20)
    assert flag.matched_on == ["text", "metadata.tier", "metadata.region"]
    assert apply_rules(TIERED, text, metadata={"tier": "pro"}) == []
    assert apply_rules(TIERED, text, metadata={"tier": "enterprise", "region": "eu"}) == []


def test_raise_to_raises_and_never_lowers() -> None:
    meta = {"contact_count": "5"}
    flags = apply_rules(TIERED, "any news?", metadata=meta)
    (low,) = settle_rules(TIERED, flags, "any news?", meta, {"priority": "low"})
    assert low.forced == {"priority": "high"} and low.raised == {"priority": "high"}
    (critical,) = settle_rules(TIERED, flags, "any news?", meta, {"priority": "critical"})
    assert critical.forced == {} and critical.raised == {}
    (unasked,) = settle_rules(TIERED, flags, "any news?", meta, {"category": "billing"})
    assert unasked.forced == {}


def test_a_flag_carries_positions_never_text() -> None:
    (flag,) = apply_rules(SUPPORT, "Hello. I'll have my lawyer call you")
    assert flag.span == (20, 26)
    assert "lawyer" not in flag.model_dump_json()


def test_old_style_rules_dump_as_before() -> None:
    """Rules that use none of when/raise_to/route dump exactly the fields they always had, so
    the fingerprint of an existing file (and its calibrations, heads, cache) is unchanged."""
    rubric = parse_rubric(
        "name: r\nlabels:\n- {name: a, rubric: Is it A}\n- {name: b, rubric: Is it B}\n"
        "rules:\n- {name: x, match: {any: [x]}, action: escalate, force: {category: a}}\n",
        "r.yaml",
    )
    assert set(rubric.model_dump(mode="json")["rules"][0]) == {
        "name",
        "description",
        "match",
        "action",
        "force",
    }
    # computed with the loader before ``when`` existed
    assert rubric.fingerprint == OLD_STYLE_FINGERPRINT

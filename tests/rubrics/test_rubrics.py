from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gateway.errors import LabelsInvalidError, RubricInvalidError, RubricNotFoundError
from gateway.rubrics import Label, RubricSet, RubricStore, load_rubric_file, parse_rubric

GOOD = """\
name: demo
thresholds: {auto_route: 0.9, review: 0.5}
axes:
  category:
    labels:
      - name: billing
        rubric: Is this text about a billing issue?
      - name: technical
        rubric: Is this text about a technical problem?
rules:
  - name: legal
    match: {any: ["lawyer"]}
    action: escalate
    force: {category: billing}
"""


def problems_of(source: str) -> list[str]:
    with pytest.raises(RubricInvalidError) as info:
        parse_rubric(source, "demo.yaml")
    return info.value.problems


def test_good_file_parses() -> None:
    rubric = parse_rubric(GOOD, "demo.yaml")
    assert rubric.axes["category"].names == ["billing", "technical"]
    assert rubric.thresholds.auto_route == 0.9
    assert rubric.primary_axis == "category"


def test_bundled_support_rubric_is_valid() -> None:
    rubric = load_rubric_file(Path(__file__).parents[2] / "rubrics" / "support.yaml")
    assert set(rubric.axes["category"].names) == {
        "billing",
        "technical",
        "account",
        "shipping",
        "returns",
        "sales",
        "feedback",
    }
    assert rubric.axes["priority"].names == ["critical", "high", "normal", "low"]
    escalating = [r.name for r in rubric.rules if r.action == "escalate"]
    assert {"security_incident", "legal_threat"} <= set(escalating)


def test_missing_field_names_line_and_field() -> None:
    source = GOOD.replace("        rubric: Is this text about a technical problem?\n", "")
    (problem,) = problems_of(source)
    # the label item starts on line 8
    assert problem.startswith("demo.yaml:8: axes.category.labels[1].rubric: Field required")


def test_unknown_field_is_rejected_with_its_line() -> None:
    source = GOOD.replace("      - name: billing\n", "      - name: billing\n        colour: red\n")
    (problem,) = problems_of(source)
    assert problem.startswith("demo.yaml:7: axes.category.labels[0].colour: Extra inputs")


def test_every_problem_is_reported() -> None:
    source = GOOD.replace("auto_route: 0.9", "auto_route: 1.5").replace(
        "rubric: Is this text about a billing issue?", "rubric: ''"
    )
    problems = problems_of(source)
    assert len(problems) == 2
    assert any(":2: thresholds.auto_route:" in p for p in problems)
    assert any(":7: axes.category.labels[0].rubric:" in p for p in problems)


def test_invalid_allow_pattern_names_its_line() -> None:
    source = GOOD + "redaction:\n  allow_patterns:\n    - 'ORD-\\d+'\n    - '(unclosed'\n"
    (problem,) = problems_of(source)
    assert problem.startswith(
        "demo.yaml:18: redaction.allow_patterns[1]: invalid regular expression"
    )


def test_yaml_syntax_error_names_line() -> None:
    (problem,) = problems_of(GOOD.replace("    labels:\n", "    labels: [\n", 1))
    assert problem.startswith("demo.yaml:")
    assert "(yaml)" in problem


def test_duplicate_key_is_an_error() -> None:
    problems = problems_of(GOOD.replace("name: demo\n", "name: demo\nname: other\n"))
    assert any(p.startswith("demo.yaml:2: name: duplicate key") for p in problems)


def test_duplicate_label_and_unknown_forced_label() -> None:
    problems = problems_of(GOOD.replace("name: technical", "name: billing"))
    assert any("duplicate label name 'billing'" in p for p in problems)
    problems = problems_of(GOOD.replace("force: {category: billing}", "force: {category: nope}"))
    assert any("forces unknown label 'nope'" in p for p in problems)


def test_invalid_regex_rule() -> None:
    problems = problems_of(
        GOOD.replace('match: {any: ["lawyer"]}', 'match: {any: ["(a"], regex: true}')
    )
    assert any("rules[0].match" in p and "invalid regex" in p for p in problems)


def test_labels_shorthand_is_one_category_axis() -> None:
    rubric = parse_rubric(
        "name: s\nlabels:\n  - {name: a, rubric: 'Is it a?'}\n  - {name: b, rubric: 'Is it b?'}\n",
        "s.yaml",
    )
    assert list(rubric.axes) == ["category"]
    assert rubric.axes["category"].names == ["a", "b"]


def test_fingerprint_ignores_formatting_but_not_meaning() -> None:
    base = parse_rubric(GOOD, "a.yaml").fingerprint
    reformatted = "# a comment\n" + GOOD.replace(
        "{auto_route: 0.9, review: 0.5}", "\n  auto_route: 0.9\n  review: 0.5"
    )
    assert parse_rubric(reformatted, "b.yaml").fingerprint == base
    changed = GOOD.replace("a billing issue", "a payment issue")
    assert parse_rubric(changed, "a.yaml").fingerprint != base
    assert len(base) == 64


def test_inline_labels_errors_are_client_errors() -> None:
    with pytest.raises(LabelsInvalidError, match="duplicate label name"):
        RubricSet.inline([Label(name="a", rubric="Is it a?"), Label(name="a", rubric="Is it b?")])
    with pytest.raises(LabelsInvalidError, match="at least 2"):
        RubricSet.inline([Label(name="a", rubric="Is it a?")])


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    # make sure the change is visible even on filesystems with coarse mtimes
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


def test_store_reloads_changed_files_and_keeps_last_good(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(GOOD)
    store = RubricStore(tmp_path, reload_interval_s=0)
    first = store.get("demo").fingerprint

    _touch_later(path, GOOD.replace("a billing issue", "a payment issue"))
    second = store.get("demo").fingerprint
    assert second != first

    _touch_later(path, GOOD.replace("axes:", "axes: [broken"))
    assert store.get("demo").fingerprint == second  # the broken edit does not take it down
    (errors,) = store.errors.values()
    assert errors[0].startswith(str(path))

    _touch_later(path, GOOD)
    assert store.get("demo").fingerprint == first
    assert not store.errors


def test_store_unknown_rubric_and_new_files(tmp_path: Path) -> None:
    store = RubricStore(tmp_path, reload_interval_s=0)
    with pytest.raises(RubricNotFoundError, match="unknown rubric set 'demo'"):
        store.get("demo")
    (tmp_path / "demo.yaml").write_text(GOOD)
    time.sleep(0.01)
    assert store.get("demo").name == "demo"
    assert [info.name for info in store.list()] == ["demo"]


RULED = GOOD.replace(
    "axes:\n",
    "axes:\n  priority:\n    labels:\n      - {name: high, rubric: Is it urgent}\n"
    "      - {name: low, rubric: Can it wait}\n",
) + (
    "  - name: repeat\n"  # line 19
    "    when:\n"
    "      metadata: {contact_count: {gte: 3}, tier: [gold, 3]}\n"
    "      any:\n"
    "        - axis: {category: billing}\n"  # line 23
    "        - text: {any: [call me]}\n"
    "    raise_to: {priority: high}\n"
    "    route: vip\n"
)


def test_rules_with_metadata_answers_and_routes_parse() -> None:
    rubric = parse_rubric(RULED, "demo.yaml")
    rule = rubric.rules[1]
    assert rule.when is not None and rule.uses_answers
    assert rule.when.metadata["contact_count"].gte == 3
    assert rule.when.metadata["tier"].one_of == ("gold", "3")  # scalars compared as text
    assert (rule.raise_to, rule.route) == ({"priority": "high"}, "vip")
    assert not rubric.rules[0].uses_answers


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{gte: 3}",
            "{gte: three}",
            "demo.yaml:21: rules[1].when.metadata.contact_count.gte: Input should be a valid number",
        ),
        (
            "{gte: 3}",
            "{at_least: 3}",
            "demo.yaml:21: rules[1].when.metadata.contact_count.at_least: Extra inputs",
        ),
        (
            "axis: {category: billing}",
            "axis: {sentiment: negative}",
            "demo.yaml:23: rules[1].when.any[0].axis.sentiment: rule 'repeat' tests unknown axis",
        ),
        (
            "axis: {category: billing}",
            "axis: {category: [billing, refunds]}",
            "demo.yaml:23: rules[1].when.any[0].axis.category[1]: rule 'repeat' tests unknown "
            "label 'refunds'",
        ),
        (
            "raise_to: {priority: high}",
            "raise_to: {priority: urgent}",
            "demo.yaml:25: rules[1].raise_to.priority: rule 'repeat' raises unknown label 'urgent'",
        ),
        (
            "raise_to: {priority: high}",
            "raise_to: {category: billing}\n    force: {category: technical}",
            "demo.yaml:19: rules[1]: axis 'category' is in both 'force' and 'raise_to'",
        ),
        (
            "    when:\n      metadata: {contact_count: {gte: 3}, tier: [gold, 3]}\n"
            "      any:\n        - axis: {category: billing}\n"
            "        - text: {any: [call me]}\n",
            "",
            "demo.yaml:19: rules[1]: a rule needs 'match' (text) or 'when' (conditions)",
        ),
        (
            "        - text: {any: [call me]}\n",
            "        - {}\n",
            "demo.yaml:24: rules[1].when.any[1]: a condition needs 'text', 'metadata', 'axis'",
        ),
        (
            "  - name: repeat\n",
            "  - name: legal\n",
            "demo.yaml:19: rules[1].name: rule names must be unique: 'legal' is used twice",
        ),
    ],
)
def test_malformed_rules_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in RULED
    problems = problems_of(RULED.replace(old, new))
    assert any(p.startswith(expected) for p in problems), problems


def test_unknown_forced_label_names_its_line() -> None:
    problems = problems_of(GOOD.replace("force: {category: billing}", "force: {category: nope}"))
    assert problems == [
        "demo.yaml:14: rules[0].force.category: rule 'legal' forces unknown label 'nope' on "
        "axis 'category'; it has ['billing', 'technical']"
    ]

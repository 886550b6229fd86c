"""The rubric side of languages: ``languages:`` in YAML, its shorthands, and its errors with
``file:line`` like every other rubric field."""

from __future__ import annotations

import pytest

from gateway.errors import RubricInvalidError
from gateway.rubrics import OtherLanguages, parse_rubric

BASE = """\
name: demo
axes:
  category:
    labels:
      - {name: billing, rubric: Is it about a charge}
      - {name: technical, rubric: Is it a bug}
"""


def _with(languages: str) -> str:
    return BASE + "languages:\n" + languages


@pytest.mark.parametrize(
    ("yaml", "action", "route"),
    [
        ("  other: review\n", "review", None),
        ("  other: {route: intl-team}\n", "route", "intl-team"),
        ("  other: {scorer: llm}\n", "llm", None),
        ("  other: llm\n", "llm", None),
    ],
)
def test_other_language_shorthands(yaml: str, action: str, route: str | None) -> None:
    policy = parse_rubric(_with("  supported: [en, DE]\n" + yaml), "demo.yaml").languages
    assert policy is not None
    assert policy.other == OtherLanguages(action=action, route=route)  # type: ignore[arg-type]
    assert policy.supported == ("en", "de")  # codes are lower-cased
    assert policy.unsupported("fr", 0.9) and not policy.unsupported("de", 0.99)
    assert not policy.unsupported("fr", 0.3)  # below min_confidence: not acted on


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("  other: {scorer: gpt}\n", "demo.yaml:8: languages.other: scorer must be"),
        ("  other: {route: x, review: true}\n", "demo.yaml:8: languages.other: give"),
        ("  other: teleport\n", "demo.yaml:8: languages.other.action: Input should be"),
        ("  supported: [english]\n  other: review\n", "demo.yaml:8: languages.supported[0]:"),
        ("  other: review\n  min_confidence: 2\n", "demo.yaml:9: languages.min_confidence:"),
        ("  supported: []\n  other: review\n", "demo.yaml:8: languages.supported:"),
    ],
)
def test_a_bad_policy_is_reported_with_its_line(yaml: str, expected: str) -> None:
    with pytest.raises(RubricInvalidError) as info:
        parse_rubric(_with(yaml), "demo.yaml")
    (problem,) = info.value.problems
    assert problem.startswith(expected), problem


def test_a_set_without_a_policy_keeps_its_fingerprint() -> None:
    # the field is left out of the content hash while unset: calibrations, promoted heads and
    # cache entries bound to existing fingerprints stay bound
    plain = parse_rubric(BASE, "demo.yaml")
    assert "languages" not in plain.model_dump(mode="json")
    with_policy = parse_rubric(_with("  other: review\n"), "demo.yaml")
    assert with_policy.fingerprint != plain.fingerprint

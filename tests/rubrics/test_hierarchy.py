"""Hierarchical axes in YAML: `rubric check` names each broken link of the tree at its line,
and a flat set's fingerprint does not move because the fields exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import PROJECT_ROOT
from gateway.errors import RubricInvalidError
from gateway.rubrics import load_rubric_file, parse_rubric

TREE = """\
name: tree
axes:
  category:
    labels:
      - name: billing
        rubric: Is this text about billing?
      - name: technical
        rubric: Is this text about a bug?
  subcategory:
    parent: category
    labels:
      - name: refund
        parent: billing
        rubric: Is this text a refund request?
      - name: crash
        parent: {crash_parent}
        rubric: Is this text about a crash?
"""


def test_a_valid_tree_lists_children_and_pulls_in_the_parent() -> None:
    rubric = parse_rubric(TREE.format(crash_parent="technical"), "tree.yaml")
    assert rubric.children("subcategory", "billing") == ["refund"]
    assert rubric.select_axes(["subcategory"]) == ["category", "subcategory"]


def test_an_unknown_parent_label_is_named_at_its_line() -> None:
    with pytest.raises(RubricInvalidError) as caught:
        parse_rubric(TREE.format(crash_parent="technicall"), "tree.yaml")
    assert (
        "tree.yaml:16: axes.subcategory.labels[1].parent: label 'crash' names unknown parent "
        "'technicall'; axis 'category' has ['billing', 'technical']"
    ) in str(caught.value)


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            TREE.format(crash_parent="technical").replace("parent: category", "parent: topic"),
            "tree.yaml:10: axes.subcategory.parent: axis 'subcategory' names unknown parent axis "
            "'topic'",
        ),
        (
            TREE.format(crash_parent="technical").replace("        parent: billing\n", ""),
            "tree.yaml:12: axes.subcategory.labels[0]: label 'refund' needs a 'parent'",
        ),
        (
            TREE.format(crash_parent="technical").replace("    parent: category\n", ""),
            "tree.yaml:12: axes.subcategory.labels[0].parent: label 'refund' names a parent, but "
            "axis 'subcategory' has no 'parent' axis",
        ),
        (
            "name: tree\naxes:\n  category:\n    parent: team\n    labels:\n"
            "      - {name: billing, rubric: billing, parent: finance}\n"
            "      - {name: technical, rubric: bugs, parent: finance}\n"
            "  team:\n    labels:\n      - {name: finance, rubric: money}\n"
            "      - {name: ops, rubric: operations}\n",
            "tree.yaml:4: axes.category.parent: the primary axis cannot have a parent",
        ),
    ],
)
def test_broken_trees_are_refused_with_file_line_and_field(yaml_text: str, expected: str) -> None:
    with pytest.raises(RubricInvalidError) as caught:
        parse_rubric(yaml_text, "tree.yaml")
    assert expected in str(caught.value)


def test_a_cycle_is_refused() -> None:
    text = TREE.format(crash_parent="technical") + (
        "  a:\n    parent: b\n    labels:\n      - {name: x, rubric: x, parent: y}\n"
        "      - {name: z, rubric: z, parent: y}\n"
        "  b:\n    parent: a\n    labels:\n      - {name: y, rubric: y, parent: x}\n"
        "      - {name: w, rubric: w, parent: x}\n"
    )
    with pytest.raises(RubricInvalidError, match="axis parents form a cycle: a → b → a"):
        parse_rubric(text, "tree.yaml")


def test_flat_sets_keep_their_fingerprints(tmp_path: Path) -> None:
    # the calibration beside BANKING77's rubric is keyed by the fingerprint it was fitted on
    rubric = load_rubric_file(PROJECT_ROOT / "evals" / "rubrics" / "banking77.yaml")
    assert rubric.fingerprint.startswith("b2ef73bc2617")

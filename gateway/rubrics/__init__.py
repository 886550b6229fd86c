"""Rubric sets: the models (``model``), YAML parsing with ``file:line`` errors (``loading``), the
hot-reloading directory store (``store``) and one file per name (``names``). Import from here,
not from the submodules.

A low layer: it depends on ``gateway.errors`` only, so schemas, scoring and the pipeline can
all import it.
"""

from gateway.rubrics.loading import load_rubric_file, parse_rubric
from gateway.rubrics.model import (
    PRIMARY_AXIS,
    Axis,
    Condition,
    Label,
    Loc,
    Match,
    Name,
    NonEmpty,
    RedactionOverrides,
    RubricSet,
    Rule,
    RuleProblemsError,
    Thresholds,
    ValueTest,
)
from gateway.rubrics.names import duplicate_name_problem, name_conflicts, rubric_files
from gateway.rubrics.store import RubricInfo, RubricStore, load_rubrics

__all__ = [
    "PRIMARY_AXIS",
    "Axis",
    "Condition",
    "Label",
    "Loc",
    "Match",
    "Name",
    "NonEmpty",
    "RedactionOverrides",
    "RubricInfo",
    "RubricSet",
    "RubricStore",
    "Rule",
    "RuleProblemsError",
    "Thresholds",
    "ValueTest",
    "duplicate_name_problem",
    "load_rubric_file",
    "load_rubrics",
    "name_conflicts",
    "parse_rubric",
    "rubric_files",
]

"""Rubric sets: the models (``model``; rules in ``rule_model``, hierarchy checks in
``hierarchy``), YAML parsing with ``file:line`` errors (``loading``), the
hot-reloading directory store (``store``) and one file per name (``names``). Import from here,
not from the submodules.

A low layer: it depends on ``gateway.errors`` only, so schemas, scoring and the pipeline can
all import it.
"""

from gateway.rubrics.fields import PRIMARY_AXIS, Loc, Name, NonEmpty
from gateway.rubrics.languages import ENGLISH_ONLY_DEFAULT, LanguagePolicy, OtherLanguages
from gateway.rubrics.loading import LineMap, field_path, load_rubric_file, parse_rubric, read_yaml
from gateway.rubrics.model import Axis, Label, RedactionOverrides, RubricSet, Thresholds
from gateway.rubrics.names import duplicate_name_problem, name_conflicts, rubric_files
from gateway.rubrics.rule_model import Condition, Match, Rule, RuleProblemsError, ValueTest
from gateway.rubrics.store import RubricInfo, RubricStore, load_rubrics

__all__ = [
    "ENGLISH_ONLY_DEFAULT",
    "PRIMARY_AXIS",
    "Axis",
    "Condition",
    "Label",
    "LanguagePolicy",
    "LineMap",
    "Loc",
    "Match",
    "Name",
    "NonEmpty",
    "OtherLanguages",
    "RedactionOverrides",
    "RubricInfo",
    "RubricSet",
    "RubricStore",
    "Rule",
    "RuleProblemsError",
    "Thresholds",
    "ValueTest",
    "duplicate_name_problem",
    "field_path",
    "load_rubric_file",
    "load_rubrics",
    "name_conflicts",
    "parse_rubric",
    "read_yaml",
    "rubric_files",
]

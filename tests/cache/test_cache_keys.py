"""The result-cache key changes with everything that can change an answer: each scorer setting,
each provider setting but the patience ones, each field of the rubric set asked. Fields are
walked from the models themselves, so a field added later is covered without editing this."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from gateway.cache import CachingScorer, NullStore
from gateway.config import LocalSettings, ProviderSettings
from gateway.providers import ProviderClient, load_prompt
from gateway.rubrics import RubricSet, parse_rubric
from gateway.scoring import Encoder, LocalScorer, Scorer
from gateway.scoring.llm import LLMScorer

RUBRIC = parse_rubric(
    """
name: support
description: Routing for the support inbox.
thresholds: {auto_route: 0.85, review: 0.6}
axes:
  category:
    description: what it is about
    labels:
      - {name: billing, rubric: "Is it about a charge?", examples: [charged twice], route: bill}
      - {name: bug, rubric: "Is it a bug?"}
  priority:
    labels:
      - {name: high, rubric: "Is it urgent?"}
      - {name: low, rubric: "Can it wait?"}
rules:
  - {name: hacked, match: {any: [hacked]}, action: escalate}
redaction: {allow: [Acme]}
""",
    "support.yaml",
)


def key(scorer: Scorer, rubric: RubricSet = RUBRIC, axes: tuple[str, ...] = ("category",)) -> str:
    return CachingScorer(scorer, NullStore()).key("a ticket", rubric, axes)


def changed(value: Any) -> Any:
    """Another valid value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1 if value < 1 else value * 0.5 + 8
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return (*value, "other")
    if value is None:
        return "http://127.0.0.1:9/v1"
    raise TypeError(type(value))


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


def local_with(encoder: Encoder, **fields: Any) -> LocalScorer:
    return LocalScorer(encoder, LocalSettings(**fields))


def test_every_local_setting_that_changes_a_score_changes_the_key(encoder: Encoder) -> None:
    base = LocalSettings()
    reference = key(local_with(encoder))
    for name in LocalSettings.model_fields:
        value = changed(getattr(base, name))
        if name == "max_tokens":
            value = 128
        other = key(local_with(encoder, **{name: value}))
        if name in LocalSettings.NOT_ANSWER_FIELDS:
            assert other == reference, name
        else:
            assert other != reference, name
    scheduling = {"threads", "spin", "micro_batch", "micro_batch_chars", "heavy_ticket_chars"}
    assert scheduling == LocalSettings.NOT_ANSWER_FIELDS


def llm_with(**fields: Any) -> LLMScorer:
    config = ProviderSettings(model="openai/test-model", **fields)
    return LLMScorer(ProviderClient(config), load_prompt("classify.v2"))


def test_every_provider_setting_but_patience_changes_the_key() -> None:
    base = ProviderSettings(model="openai/test-model")
    reference = key(llm_with())
    for name in ProviderSettings.model_fields:
        if name in ("model", "retry"):
            continue
        value = getattr(base, name)
        if name == "structured_mode":
            value = "json_schema"
        elif name == "structured_modes":
            value = {"openai/test-model": "json_schema"}
        elif name == "structured_max_tokens":
            value = 512
        elif name == "api_key":
            value = "sk-other"
        else:
            value = changed(value)
        other = key(llm_with(**{name: value}))
        # the model chain (model, fallback_models) enters the key by itself
        if name in ProviderSettings.NOT_ANSWER_FIELDS - {"fallback_models"}:
            assert other == reference, name
        else:
            assert other != reference, name
    assert key(llm_with(), axes=("category",)) != key(
        LLMScorer(
            ProviderClient(ProviderSettings(model="openai/other")), load_prompt("classify.v2")
        )
    )
    assert key(llm_with()) != key(
        LLMScorer(ProviderClient(base), load_prompt("classify.v1"))
    )  # the prompt's content hash


def _leaves(
    model: BaseModel, path: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], Any]]:
    out: list[tuple[tuple[str | int, ...], Any]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name == "labels" and isinstance(model, RubricSet):
            continue  # the shorthand, folded into axes
        if isinstance(value, BaseModel):
            out += _leaves(value, (*path, name))
        elif (
            isinstance(value, dict) and value and isinstance(next(iter(value.values())), BaseModel)
        ):
            for k, item in value.items():
                out += _leaves(item, (*path, name, k))
        elif isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            for i, item in enumerate(value):
                out += _leaves(item, (*path, name, i))
        else:
            out.append(((*path, name), value))
    return out


def _with(model: BaseModel, path: tuple[str | int, ...], value: Any) -> BaseModel:
    head, *rest = path
    if not rest:
        return model.model_copy(update={head: value})
    current = getattr(model, str(head)) if isinstance(head, str) else None
    assert current is not None
    child_key, *deeper = rest
    if isinstance(current, dict):
        return model.model_copy(
            update={head: {**current, child_key: _with(current[child_key], tuple(deeper), value)}}
        )
    if isinstance(current, tuple):
        items = list(current)
        items[child_key] = _with(items[child_key], tuple(deeper), value)  # type: ignore[index]
        return model.model_copy(update={head: tuple(items)})
    return model.model_copy(update={head: _with(current, tuple(rest), value)})


def test_every_field_of_the_rubric_set_asked_changes_the_key(encoder: Encoder) -> None:
    scorer = local_with(encoder)
    reference = key(scorer)
    leaves = _leaves(RUBRIC)
    assert len(leaves) > 15
    for path, value in leaves:
        if path[:2] == ("axes", "priority"):
            continue  # not asked: below
        if isinstance(value, float):
            new: Any = round(value / 2, 2)
        elif isinstance(value, dict) and not value:
            new = {"category": "bug"}
        elif value is None:
            new = "something"
        elif isinstance(value, tuple) and not value:
            new = ("more",)
        else:
            new = changed(value)
        variant = _with(RUBRIC, path, new)
        assert isinstance(variant, RubricSet)
        assert key(scorer, variant) != reference, path
    # an axis not asked shares nothing with the key
    other = _with(RUBRIC, ("axes", "priority", "description"), "changed")
    assert isinstance(other, RubricSet)
    assert key(scorer, other) == reference

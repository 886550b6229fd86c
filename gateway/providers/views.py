"""What a template sees of a rubric: plain, immutable views (no RubricSet methods reachable from
Jinja), with the safe JSON keys and the code letters that the response model and the label_code
prompt use for its labels."""

from __future__ import annotations

import keyword
import re
import string

from pydantic import BaseModel, ConfigDict, Field

from gateway.rubrics import RubricSet

LABEL_CODES = string.ascii_uppercase  # one code letter = one token in every common tokenizer


class LabelView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    key: str = Field(description="safe JSON key for this label's p_yes")
    code: str = Field(description="code letter for label_code prompts")
    rubric: str
    examples: tuple[str, ...]


class AxisView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    description: str | None
    multi_label: bool
    labels: tuple[LabelView, ...]

    @property
    def codes(self) -> list[str]:
        return [label.code for label in self.labels]


class RubricView(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None


def safe_keys(names: list[str]) -> list[str]:
    """JSON-safe, unique identifiers for names (``^[A-Za-z_][A-Za-z0-9_]{0,47}$``).

    Providers restrict tool-schema property names; label names are free text.
    """
    keys: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")[:40] or "label"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"l_{base}"
        key, n = base, 2
        while key in seen:
            key, n = f"{base}_{n}", n + 1
        seen.add(key)
        keys.append(key)
    return keys


def axis_views(rubric: RubricSet, axes: list[str]) -> list[AxisView]:
    views: list[AxisView] = []
    for axis_name, axis_key in zip(axes, safe_keys(axes), strict=True):
        axis = rubric.axes[axis_name]
        keys = safe_keys(axis.names)
        labels = tuple(
            LabelView(
                name=label.name,
                key=key,
                code=LABEL_CODES[i] if i < len(LABEL_CODES) else "",
                rubric=label.rubric,
                examples=label.examples,
            )
            for i, (label, key) in enumerate(zip(axis.labels, keys, strict=True))
        )
        views.append(
            AxisView(
                name=axis_name,
                key=axis_key,
                description=axis.description,
                multi_label=axis.multi_label,
                labels=labels,
            )
        )
    return views

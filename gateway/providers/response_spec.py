"""The response model of a structured prompt, built from rubric axes, and the way back from a
validated answer to label names.

Per axis: an object with a short rationale, (for ``rationale_choice_probabilities``) a
``Literal`` choice among the label names, and ``p_yes``: one probability in [0, 1] per label.
JSON keys are the views' safe keys, mapped back after validation; unknown keys and unknown choices
are rejected (``extra="forbid"``, ``Literal``), so instructor re-asks instead of passing them on.
"""

from __future__ import annotations

import json
import weakref
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from gateway.errors import ConfigError
from gateway.providers.views import AxisView

RATIONALE_MAX_CHARS = 300

ResponseShape = Literal["yes_probabilities", "rationale_choice_probabilities", "label_code"]


def _short(text: str) -> str:
    # Truncate rather than reject: a long rationale is not worth a re-ask.
    text = " ".join(text.split())
    return text if len(text) <= RATIONALE_MAX_CHARS else text[: RATIONALE_MAX_CHARS - 1] + "…"


Rationale = Annotated[str, AfterValidator(_short)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]

_FORBID = ConfigDict(extra="forbid")
_SCHEMAS: weakref.WeakKeyDictionary[type[BaseModel], str] = weakref.WeakKeyDictionary()


@lru_cache(maxsize=1)
def response_base() -> type[BaseModel]:
    """Base of every generated response model (built on first use: instructor is slow to import).

    Being an instructor ``ResponseSchema`` spares instructor from wrapping the model in a new
    class on every call, and the JSON schema (which instructor's JSON mode embeds in every
    request) is generated once per model instead of per call: together ~4 ms a call.
    """
    from instructor import ResponseSchema

    class ResponseBase(ResponseSchema):
        model_config = ConfigDict(extra="forbid")

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            if args or kwargs:
                return super().model_json_schema(*args, **kwargs)
            cached = _SCHEMAS.get(cls)
            if cached is None:
                cached = json.dumps(super().model_json_schema())
                _SCHEMAS[cls] = cached
            schema: dict[str, Any] = json.loads(cached)  # a fresh copy: callers may edit it
            return schema

    return ResponseBase


class ResponseSpec:
    """The response model for (rubric axes, prompt shape) and the way back to label names."""

    def __init__(self, shape: ResponseShape, axes: list[AxisView]) -> None:
        if shape == "label_code":
            raise ConfigError("label_code prompts have no structured response model")
        self.shape = shape
        self.axes = axes
        axis_fields: dict[str, Any] = {}
        for i, axis in enumerate(axes):
            p_fields: dict[str, Any] = {
                f"f{j}": (Probability, Field(alias=label.key, description=label.rubric))
                for j, label in enumerate(axis.labels)
            }
            p_yes = create_model(
                f"PYes{i}",
                __config__=_FORBID,
                __doc__=f"Probability that each label's question is answered yes ({axis.key}).",
                **p_fields,
            )
            rationale = (Rationale, Field(description="one short sentence, no personal data"))
            fields: dict[str, Any] = {}
            if shape == "rationale_choice_probabilities":
                choice_type = Literal[tuple(label.name for label in axis.labels)]  # type: ignore[valid-type]
                fields["rationale"] = rationale
                fields["choice"] = (choice_type, Field(description="the best-fitting label"))
                fields["p_yes"] = (p_yes, ...)
            else:
                fields["p_yes"] = (p_yes, ...)
                fields["rationale"] = rationale
            axis_model = create_model(
                f"Axis{i}", __config__=_FORBID, __doc__=f"Answer for axis {axis.key}.", **fields
            )
            axis_fields[f"a{i}"] = (axis_model, Field(alias=axis.key))
        # The class name is the schema title the model sees (and a valid function name).
        self.model: type[BaseModel] = create_model(
            "classify_ticket",
            __base__=response_base(),
            __doc__="Classify the support ticket on every axis.",
            **axis_fields,
        )

    @property
    def shape_has_choice(self) -> bool:
        """Whether answers name a chosen label per axis (whose logprobs the scorer can read)."""
        return self.shape == "rationale_choice_probabilities"

    def probabilities(self, answer: BaseModel) -> dict[str, dict[str, float]]:
        """Axis name → label name → P(yes), from a validated answer."""
        if not isinstance(answer, self.model):
            raise TypeError("answer is not an instance of this spec's response model")
        out: dict[str, dict[str, float]] = {}
        for i, axis in enumerate(self.axes):
            p_yes = getattr(answer, f"a{i}").p_yes
            out[axis.name] = {
                label.name: float(getattr(p_yes, f"f{j}")) for j, label in enumerate(axis.labels)
            }
        return out

    def rationales(self, answer: BaseModel) -> dict[str, str]:
        """Axis name → the model's rationale (shapes that ask for one)."""
        out: dict[str, str] = {}
        for i, axis in enumerate(self.axes):
            rationale = getattr(getattr(answer, f"a{i}", None), "rationale", None)
            if isinstance(rationale, str) and rationale:
                out[axis.name] = rationale
        return out

    def choices(self, answer: BaseModel) -> dict[str, str]:
        """Axis name → the chosen label (``rationale_choice_probabilities`` only)."""
        if self.shape != "rationale_choice_probabilities":
            return {}
        return {axis.name: getattr(answer, f"a{i}").choice for i, axis in enumerate(self.axes)}

    def validate_json(self, payload: str) -> BaseModel:
        return self.model.model_validate_json(payload)

"""The building blocks every rubric model shares: names, non-empty strings, locations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

PRIMARY_AXIS = "category"

# Signals: an axis answered on the embedded path by a packaged trained head (gateway/models/),
# not by its labels' questions (which the LLM scorers still answer). Its labels are the head's.
Signal = Literal["sentiment"]
SIGNAL_LABELS: dict[str, tuple[str, ...]] = {"sentiment": ("negative", "neutral", "positive")}

# A path into a rubric document: keys and list indexes, as pydantic reports error locations.
Loc = tuple[str | int, ...]

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

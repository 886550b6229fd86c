"""What a rubric set does with a ticket in a language it was not written for.

```yaml
languages:
  supported: [en]            # the languages the set's questions and examples are written in
  other: {route: intl-team}  # or: review, or {scorer: llm}
  min_confidence: 0.6        # a detection less sure than this is not acted on
```

- ``route``: the ticket goes to that route, decided so (``auto_route``), the reason naming the
  language;
- ``review``: the ticket goes to a person;
- ``{scorer: llm}``: an LLM scorer answers it (it reads the language); where the deployment has
  none, the ticket goes to review and the reason says why.

``RubricSet.languages`` leaves an unset policy out of the dump, so the fingerprints of sets
without one stay what they were. The pipeline applies it (``gateway.pipeline.language``): a
set without ``languages:`` is answered as before by a scorer that reads other languages, and
sent to review by one that reads English only (the embedded model).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

# ISO 639-1 (two letters) or 639-3 (three), as the detector reports them
LanguageCode = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
]
RouteName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

# below this the detector is often wrong on two- or three-word tickets (bench/language_detectors.py)
DEFAULT_MIN_CONFIDENCE = 0.6


class OtherLanguages(BaseModel):
    """The action for a ticket in an unsupported language. YAML shorthands: ``review``,
    ``llm``, ``{route: NAME}``, ``{scorer: llm}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["route", "review", "llm"]
    route: RouteName | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, str):
            return {"action": data}
        if isinstance(data, dict) and "action" not in data:
            if set(data) == {"route"}:
                return {"action": "route", "route": data["route"]}
            if set(data) == {"scorer"}:
                if data["scorer"] != "llm":
                    raise ValueError(f"scorer must be 'llm', not {data['scorer']!r}")
                return {"action": "llm"}
            raise ValueError("give one of: review, {route: NAME}, {scorer: llm}")
        return data

    @model_validator(mode="after")
    def _route_named(self) -> OtherLanguages:
        if (self.action == "route") != (self.route is not None):
            raise ValueError("'route' names the route, and only with the route action")
        return self


class LanguagePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    supported: tuple[LanguageCode, ...] = Field(("en",), min_length=1)
    other: OtherLanguages
    min_confidence: float = Field(DEFAULT_MIN_CONFIDENCE, ge=0, le=1)

    def unsupported(self, code: str, confidence: float) -> bool:
        """Whether a detected language is one to act on: not supported, and sure enough."""
        return code not in self.supported and confidence >= self.min_confidence


#: What a set without ``languages:`` gets from a scorer that reads English only.
ENGLISH_ONLY_DEFAULT = LanguagePolicy(supported=("en",), other=OtherLanguages(action="review"))

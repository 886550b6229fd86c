"""How a structured call is asked for and bounded, and what a re-ask says.

* ``resolve_mode``: the strongest enforcement the model offers. ``json_schema`` (the provider's
  native ``response_format``, strict: constrained decoding where the server has it) where the
  settings say so for this model, or, under ``auto``, where litellm's model table says the model
  supports response schemas; JSON mode (``json_object`` and the schema in the prompt, validated
  here) otherwise.
* ``output_token_budget``: ``max_tokens`` from the response schema, so generation is bounded:
  every leaf the schema asks for (a label's probability, a choice, a rationale) at its largest
  size, with the JSON around it, and a margin.
* ``correction``: the two messages that follow the original conversation on a re-ask: the
  invalid answer and what was wrong with it (field paths and reasons, never values). A re-ask
  replaces the previous correction instead of adding to it, so the transcript never grows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from gateway.config import ProviderSettings, StructuredMode

log = logging.getLogger(__name__)

# Tokens per leaf at their largest, JSON punctuation and indentation included. A token is ~3-4
# characters of English or JSON; a number such as 0.85 is 2-4 tokens.
KEY_TOKENS = 6  # "key": plus indentation and a comma (long keys: + len/3)
NUMBER_TOKENS = 6
FREE_TEXT_TOKENS = 160  # a rationale: asked for in one sentence, kept to 300 characters
MARGIN = 1.25
FLOOR_TOKENS = 64
MAX_ERRORS_SHOWN = 6
MAX_ANSWER_ECHOED = 4000  # characters of the invalid answer shown back to the model


def resolve_mode(config: ProviderSettings, model: str) -> StructuredMode:
    """``json_schema`` or ``json`` for ``model``: its own setting, else the global one, else
    (``auto``) what litellm's model table says."""
    explicit = config.structured_modes.get(model)
    if explicit is not None:
        return explicit
    if config.structured_mode != "auto":
        return config.structured_mode
    import litellm

    try:
        supported = litellm.supports_response_schema(model=model)
    except Exception:  # an unknown provider prefix: no static answer, so the safe mode
        supported = False
    return "json_schema" if supported else "json"


def output_token_budget(schema: Mapping[str, Any]) -> int:
    """An upper bound on the tokens of a valid answer to ``schema`` (a pydantic JSON schema)."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    return max(FLOOR_TOKENS, round(_tokens(schema, defs, depth=0) * MARGIN))


def _tokens(node: Mapping[str, Any], defs: Mapping[str, Any], depth: int) -> int:
    if depth > 32:  # a recursive schema: no bound from the schema itself
        raise ValueError("the response schema nests too deeply to bound its answer")
    if "$ref" in node:
        return _tokens(defs[str(node["$ref"]).rsplit("/", 1)[-1]], defs, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return max(_tokens(sub, defs, depth + 1) for sub in node[key])
    if "enum" in node or "const" in node:
        values = node.get("enum", [node.get("const")])
        return 2 + max(len(json.dumps(v)) for v in values) // 3
    kind = node.get("type")
    if kind == "object":
        properties: Mapping[str, Any] = node.get("properties", {})
        return 4 + sum(
            KEY_TOKENS + len(name) // 3 + _tokens(sub, defs, depth + 1)
            for name, sub in properties.items()
        )
    if kind == "array":
        items = node.get("maxItems", 8)
        return 4 + int(items) * _tokens(node.get("items", {}), defs, depth + 1)
    if kind in ("number", "integer"):
        return NUMBER_TOKENS
    if kind == "boolean":
        return 2
    if kind == "string" and "maxLength" in node:
        return 2 + int(node["maxLength"]) // 2
    return FREE_TEXT_TOKENS


def _brief(error: BaseException) -> str:
    """What was wrong, for the model: field paths and reasons, never the values."""
    if isinstance(error, ValidationError):
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            where = ".".join(str(p) for p in item["loc"]) or "the answer"
            problems.append(f"{where}: {item['msg']}")
        shown = problems[:MAX_ERRORS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"and {len(problems) - len(shown)} more")
        return "; ".join(shown)
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at character {error.pos})"
    return "no JSON object found in the answer"


def correction(
    answer: str, error: BaseException, attempt: int, attempts: int
) -> list[dict[str, str]]:
    """The messages that follow the original conversation on re-ask number ``attempt``."""
    shown = answer if len(answer) <= MAX_ANSWER_ECHOED else answer[:MAX_ANSWER_ECHOED] + "…"
    return [
        {"role": "assistant", "content": shown},
        {
            "role": "user",
            "content": (
                f"That answer is invalid: {_brief(error)}. Reply again with one JSON object "
                "that follows the schema exactly: each field under its own parent, every "
                f"required field, nothing else (attempt {attempt} of {attempts})."
            ),
        },
    ]


def answer_text(completion: Any) -> str:
    """The text of a chat completion's first choice ("" if it has none)."""
    try:
        content = completion.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        return ""
    return content if isinstance(content, str) else ""

"""What a provider call returns to the scorers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from gateway.config import StructuredMode
from gateway.schemas import Usage

M = TypeVar("M", bound=BaseModel)


class TokenLogprob(BaseModel):
    token: str
    logprob: float


class LogprobCompletion(BaseModel):
    """The first generated token and its alternatives."""

    content: str
    top_logprobs: list[TokenLogprob]
    model: str
    usage: Usage


@dataclass(frozen=True)
class Structured(Generic[M]):
    value: M
    model: str  # the model that answered: the primary or a fallback
    usage: Usage  # summed over every call of the request (re-asks included)
    calls: int
    mode: StructuredMode  # how the answer that validated was asked for


def first_token_alternatives(response: Any) -> tuple[str, list[TokenLogprob]]:
    """The content of a chat completion and its first token's ``top_logprobs`` (none if absent)."""
    choice = response.choices[0]
    content = getattr(choice.message, "content", None) or ""
    logprobs = getattr(choice, "logprobs", None)
    tokens = getattr(logprobs, "content", None) or []
    if not tokens:
        return str(content), []
    alternatives = getattr(tokens[0], "top_logprobs", None) or []
    return str(content), [
        TokenLogprob(token=str(alt.token), logprob=float(alt.logprob)) for alt in alternatives
    ]

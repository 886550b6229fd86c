"""What a provider call returns to the scorers, and the token log-probabilities read from it."""

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


class TokenPosition(BaseModel):
    """One generated token, its log-probability and the alternatives the provider showed."""

    token: str
    logprob: float
    top: list[TokenLogprob]


class LogprobCompletion(BaseModel):
    """The first generated token and its alternatives."""

    content: str
    top_logprobs: list[TokenLogprob]
    model: str
    usage: Usage
    # the server sent logprobs, but in the legacy completions shape (tokens/top_logprobs lists)
    legacy_logprobs: bool = False


@dataclass(frozen=True)
class Structured(Generic[M]):
    value: M
    model: str  # the model that answered: the primary or a fallback
    usage: Usage  # summed over every call of the request (re-asks included)
    calls: int
    mode: StructuredMode  # how the answer that validated was asked for
    content: str = ""  # the validated answer's text, as generated
    tokens: tuple[TokenPosition, ...] | None = None  # its tokens' logprobs, where returned


def _logprobs_of(response: Any) -> Any:
    choices = getattr(response, "choices", None) or []
    return getattr(choices[0], "logprobs", None) if choices else None


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def is_legacy_logprobs(response: Any) -> bool:
    """Logprobs in the text-completions shape (``tokens``, ``top_logprobs`` as dicts) instead
    of chat's ``logprobs.content``: read as none (their alternatives carry no token objects)."""
    logprobs = _logprobs_of(response)
    if logprobs is None or _field(logprobs, "content"):
        return False
    return bool(_field(logprobs, "tokens") or _field(logprobs, "top_logprobs"))


def token_positions(response: Any) -> tuple[TokenPosition, ...] | None:
    """Every generated token with its alternatives (chat ``logprobs.content``); None if absent."""
    tokens = _field(_logprobs_of(response), "content") or []
    if not tokens:
        return None
    out = []
    for entry in tokens:
        alternatives = _field(entry, "top_logprobs") or []
        out.append(
            TokenPosition(
                token=str(_field(entry, "token")),
                logprob=float(_field(entry, "logprob")),
                top=[
                    TokenLogprob(token=str(_field(a, "token")), logprob=float(_field(a, "logprob")))
                    for a in alternatives
                ],
            )
        )
    return tuple(out)


def first_token_alternatives(response: Any) -> tuple[str, list[TokenLogprob]]:
    """The content of a chat completion and its first token's ``top_logprobs`` (none if absent)."""
    choice = response.choices[0]
    content = getattr(choice.message, "content", None) or ""
    positions = token_positions(response)
    if not positions:
        return str(content), []
    return str(content), list(positions[0].top)

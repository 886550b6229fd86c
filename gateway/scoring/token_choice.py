"""A label distribution from the token log-probabilities of a generated label name.

The ``llm`` scorer asks for a ``choice`` per axis (a label name, a JSON string). Where the
provider returns logprobs, the tokens that spell that name, with their alternatives, say how
likely each other label was: walking the chosen name token by token, an alternative token that
starts another label's name gives that label the path's probability so far times its own. The
walk stops once only the chosen label still fits (the rest of its name is then determined).

Labels no alternative reaches get a floor (at most the least likely probability seen), as in
the logprob scorer; the result is normalised over the labels, so mass on tokens that are no
label (which constrained decoding would not have allowed) is spread proportionally.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from gateway.providers import TokenPosition
from gateway.scoring.distribution import normalise, with_floor


def _fits(target: str, text: str) -> bool:
    """Whether ``text`` (generated so far) can still become, or has passed, ``target``."""
    return target.startswith(text) or text.startswith(target)


def choice_start(content: str, axis_key: str) -> int | None:
    """Character offset where axis ``axis_key``'s ``choice`` value starts (after its quote).

    Quotes inside JSON strings are escaped, so neither pattern can match inside a rationale.
    """
    axis = re.search(r'"' + re.escape(axis_key) + r'"\s*:\s*\{', content)
    if axis is None:
        return None
    choice = re.compile(r'"choice"\s*:\s*"').search(content, axis.end())
    return choice.end() if choice else None


def label_distribution(
    tokens: Sequence[TokenPosition], start: int, names: Sequence[str], chosen: str
) -> dict[str, float] | None:
    """Label → probability (sums to 1) from the tokens of the string value that starts at
    character ``start`` of the concatenated tokens; None when they do not spell ``chosen``."""
    if chosen not in names:
        return None
    # each label as it appears in JSON after the opening quote: escaped, then the closing quote
    targets = {name: json.dumps(name, ensure_ascii=False)[1:] for name in names}
    offset, index = 0, 0
    while index < len(tokens) and offset + len(tokens[index].token) <= start:
        offset += len(tokens[index].token)
        index += 1
    if index == len(tokens):
        return None
    prefix = tokens[index].token[: start - offset]  # what the first token holds before the value
    found: dict[str, float] = {}
    consumed, mass = "", 1.0
    alive = set(names)
    for position in tokens[index:]:
        if not position.token.startswith(prefix):
            return None
        actual = consumed + position.token[len(prefix) :]
        for alt in position.top:
            if not alt.token.startswith(prefix):
                continue
            text = consumed + alt.token[len(prefix) :]
            if text == actual:
                continue
            reached = [
                n for n in alive if _fits(targets[n], text) and not _fits(targets[n], actual)
            ]
            for name in reached:  # several labels behind one token: shared
                found[name] = found.get(name, 0.0) + mass * math.exp(alt.logprob) / len(reached)
        mass *= math.exp(position.logprob)
        consumed, prefix = actual, ""
        alive = {n for n in alive if _fits(targets[n], consumed)}
        if chosen not in alive:
            return None
        if alive == {chosen}:
            break
    else:
        if not consumed.startswith(targets[chosen]):
            return None  # the tokens ran out before the name was spelled
    found[chosen] = found.get(chosen, 0.0) + mass
    return with_floor(found, names, list(found.values()))


def choice_distribution(
    content: str,
    tokens: Sequence[TokenPosition],
    axis_key: str,
    names: Sequence[str],
    chosen: str,
) -> dict[str, float] | None:
    """The axis' distribution from the logprobs of its ``choice``; None where they cannot be
    read (tokens that do not spell the content, no choice field, an unknown label)."""
    # A server may return less than it generated: llama-server strips a ```json fence from the
    # content, but its logprobs are of every generated token. The content is found in them.
    spelled = "".join(t.token for t in tokens)
    core = content.strip()
    base = spelled.find(core) if core else -1
    if base < 0:
        return None
    start = choice_start(core, axis_key)
    if start is None:
        return None
    return label_distribution(tokens, base + start, names, chosen)


def blended(p_yes: dict[str, float], chosen: str | None) -> dict[str, float]:
    """Without logprobs: the normalised yes-probabilities averaged with the choice (one-hot).
    Where the two agree nothing changes; where they disagree, neither is confident."""
    scores = normalise(p_yes)
    if chosen is None or chosen not in scores:
        return scores
    return {name: (p + (1.0 if name == chosen else 0.0)) / 2 for name, p in scores.items()}

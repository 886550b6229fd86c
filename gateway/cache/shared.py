"""The seam to the replicas' shared results: answers and single-flight locks every replica
sees (Redis: ``redis_results.RedisResults``). ``CachingScorer`` uses it, when given one, in
place of its local store; whenever a call raises ``SharedStateUnavailableError`` it falls back
to the local store and scores for itself, so an outage costs duplicates, never errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.scoring import ScoreResult


@dataclass(frozen=True)
class Claim:
    """The keys this replica leads (holds the flight lock of), under one token; ``answers``:
    keys answered by another replica between the lookup and the claim (read with the claim,
    so a leader that finished in between is never followed by a second call)."""

    token: str
    led: frozenset[str] = field(default_factory=frozenset)
    answers: Mapping[str, ScoreResult] = field(default_factory=dict)


class SharedResults(Protocol):
    """Every method raises ``SharedStateUnavailableError`` when it cannot answer."""

    async def get_many(self, keys: Sequence[str]) -> list[ScoreResult | None]:
        """Answers by key (None: a miss, looked up next in the local store, which counts
        it: the shared store counts its hits only)."""
        ...

    async def claim(self, keys: Sequence[str]) -> Claim:
        """Takes the flight lock of each key no replica holds; this replica scores those
        (less any answered meanwhile); the others are being scored elsewhere."""
        ...

    async def finish(self, answers: Sequence[tuple[str, ScoreResult]], claim: Claim) -> None:
        """Stores ``answers`` and releases every lock of ``claim`` (answered or not)."""
        ...

    async def wait_many(self, keys: Sequence[str]) -> dict[str, ScoreResult]:
        """Waits for other replicas' answers to keys they hold the lock of. A key missing
        from the result (its lock expired or was released without an answer): score it."""
        ...

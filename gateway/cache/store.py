"""The result store seam: where ``CachingScorer`` keeps answers (disk, or nothing)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from gateway.scoring import ScoreResult


class CacheStats(BaseModel):
    directory: str
    enabled: bool
    entries: int
    volume_bytes: int
    size_limit_bytes: int
    ttl_s: float | None
    hits: int
    misses: int
    errors: int


class ResultStore(Protocol):
    """Scores by key. A failing store is a miss, never an error: see ``disk.ResultCache``."""

    def get(self, key: str) -> ScoreResult | None: ...

    def set(self, key: str, value: ScoreResult) -> None: ...

    def close(self) -> None: ...


class NullStore:
    """No cache (``GATEWAY_CACHE_ENABLED=false``): every lookup misses, nothing is kept."""

    def get(self, key: str) -> ScoreResult | None:
        return None

    def set(self, key: str, value: ScoreResult) -> None:
        return None

    def close(self) -> None:
        return None

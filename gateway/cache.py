"""Result cache on disk (diskcache), keyed by everything that can change a result.

Values are ``ScoreResult``s: label scores, model and usage, never ticket text. The key is a
sha256, so the redacted text itself is not stored either. Any cache failure degrades to a miss
with a warning: the cache must never turn a good request into a 500.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import diskcache
from pydantic import BaseModel, ValidationError

from gateway.scoring.base import ScoreResult

log = logging.getLogger(__name__)


class CacheKey(BaseModel):
    text: str
    rubric: str
    prompt: str | None
    model: str
    scorer: str

    def digest(self) -> str:
        payload = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()


class ResultCache:
    def __init__(self, directory: Path, ttl_s: float | None, size_limit: int) -> None:
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0
        self._cache: diskcache.Cache | None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(directory), size_limit=size_limit)
        except Exception as exc:  # any disk/sqlite failure: serve without a cache
            log.warning("result cache disabled: %s", type(exc).__name__)
            self._cache = None

    @property
    def enabled(self) -> bool:
        return self._cache is not None

    def get(self, key: str) -> ScoreResult | None:
        if self._cache is None:
            return None
        try:
            stored = self._cache.get(key)
        except Exception as exc:
            log.warning("result cache read failed: %s", type(exc).__name__)
            return None
        if not isinstance(stored, str):
            self.misses += 1
            return None
        try:
            result = ScoreResult.model_validate_json(stored)
        except ValidationError:
            self.misses += 1
            return None
        self.hits += 1
        return result

    def set(self, key: str, value: ScoreResult) -> None:
        if self._cache is None:
            return
        try:
            self._cache.set(key, value.model_dump_json(), expire=self.ttl_s)
        except Exception as exc:
            log.warning("result cache write failed: %s", type(exc).__name__)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()

"""The result-cache key: a hash of everything that can change a scorer's answer."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel


class CacheKey(BaseModel):
    text: str  # redacted text only; the key is a hash, so not even that is stored
    rubric: str
    prompt: str | None
    model: str
    scorer: str

    def digest(self) -> str:
        payload = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

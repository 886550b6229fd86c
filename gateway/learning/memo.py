"""EmbeddingMemo: an encoder that embeds each distinct text once.

Cross-fitted evidence trains k heads on nearly the same texts, and the benchmarks retrain every
round on the texts of the rounds before: without the memo, embedding is most of their time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from gateway.scoring import Embedder


class EmbeddingMemo:
    """An ``Embedder`` over ``inner`` that keeps every embedding it made (unbounded: for one
    command or one benchmark run, not for a server)."""

    def __init__(self, inner: Embedder, *, chunk: int = 256) -> None:
        self.inner = inner
        self.chunk = chunk
        self._memo: dict[str, NDArray[np.float32]] = {}

    @property
    def sha256(self) -> str:
        return self.inner.sha256

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        for start in range(0, len(todo), self.chunk):
            part = todo[start : start + self.chunk]
            for text, row in zip(part, self.inner.embed(part), strict=True):
                self._memo[text] = row
        if not texts:
            return self.inner.embed([])
        return np.stack([self._memo[t] for t in texts])

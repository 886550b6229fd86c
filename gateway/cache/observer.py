"""Where cache events go (metrics). Nothing here carries request content."""

from __future__ import annotations

from typing import Literal, Protocol

CacheOp = Literal["read", "write", "stats"]


class CacheObserver(Protocol):
    def hit(self) -> None: ...

    def miss(self) -> None: ...

    def error(self, op: CacheOp) -> None: ...

    def joined(self) -> None:
        """A ticket waited on an identical in-flight scoring call instead of scoring."""
        ...


class NullCacheObserver:
    def hit(self) -> None:
        return None

    def miss(self) -> None:
        return None

    def error(self, op: CacheOp) -> None:
        return None

    def joined(self) -> None:
        return None

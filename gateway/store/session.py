"""The store's transactions: one per call, each behind the boundary that turns the database's
errors into the gateway's (``translated``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.engine import READ, translated

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Transactions:
    """An engine and the transactions the store runs on it; thread-safe (a session per call,
    connections from the engine's pool). Usable as a context manager: leaving closes it."""

    def __init__(self, engine: Engine, *, where: str, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.where = where  # the URL without its password, for messages
        self._clock = clock
        self._writes = sessionmaker(engine, expire_on_commit=False)
        self._reads = sessionmaker(engine.execution_options(**{READ: True}), expire_on_commit=False)

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction, committed when the block ends, rolled back when it raises. Writes
        take SQLite's write lock at the start (claims and labels serialize there)."""
        factory = self._writes if write else self._reads
        with translated(self.where), factory.begin() as session:
            yield session

    def close(self) -> None:
        """Close the pooled connections; the store cannot be used after."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

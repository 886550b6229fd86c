"""The store on real databases: every test runs on a SQLite file and on the PostgreSQL server at
127.0.0.1:5432 (a schema of its own per test, dropped after)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.store import PG_URL, Clock, Database, pg_scratch

from gateway.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite:///{tmp_path / 'data' / 'gateway.db'}", None)
        return
    with pg_scratch("SCHEMA") as schema:
        yield Database("postgresql", PG_URL, schema)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database: Database, clock: Clock) -> Iterator[Store]:
    with database.open(clock=clock) as opened:
        yield opened

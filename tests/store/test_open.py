"""Opening the store: migrations from empty, again as a no-op, and the errors of a store that
cannot be reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from support.store import Database, observation

from gateway.errors import ConfigError, StoreUnavailableError
from gateway.store import open_store
from gateway.store.engine import head_revision
from gateway.store.tables import Base

TABLES = {"items", "item_axes", "labels", "models", "alembic_version"}


def test_migrates_from_empty_to_head_and_matches_the_tables(database: Database) -> None:
    with database.open() as store, store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= TABLES
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            head_revision()
        )
        # the hand-written migration creates exactly what tables.py declares
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_opening_again_is_a_no_op_and_keeps_the_data(database: Database) -> None:
    with database.open() as store:
        (item_id,) = store.record([observation()])
    with database.open() as again, again.engine.connect() as conn:
        assert again.item(item_id).id == item_id
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [r[0] for r in rows] == [head_revision()]


def test_without_migrate_an_empty_database_is_only_connected_to(database: Database) -> None:
    with database.open(migrate=False) as store, store.engine.connect() as conn:
        assert "items" not in inspect(conn).get_table_names()
        with pytest.raises(StoreUnavailableError):  # the tables are not there: a 503, not a 500
            store.queue_size()


def test_a_server_that_does_not_answer_is_store_unavailable_without_the_password() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        open_store("postgresql+psycopg://gateway:s3cret-pw@127.0.0.1:9/test?connect_timeout=2")
    assert caught.value.status == 503 and caught.value.code == "store_unavailable"
    assert "127.0.0.1:9/test" in caught.value.message
    assert "s3cret-pw" not in caught.value.message


def test_a_sqlite_directory_that_cannot_be_made_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailableError):
        open_store(f"sqlite:///{blocker / 'sub' / 'gateway.db'}")


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db"])
def test_a_url_the_store_cannot_use_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)

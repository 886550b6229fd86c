"""Alembic's environment for the store's migrations.

``open_store`` migrates over its own connection (``config.attributes["connection"]``, already in
a transaction). Run by hand (``alembic -x url=... upgrade head`` with a ``script_location``
pointing here), the URL comes from ``-x url=`` or ``sqlalchemy.url`` and the engine is the
store's own (SQLite pragmas included).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.store.engine import create_store_engine
from gateway.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("give the database URL: alembic -x url=sqlite:///path ...")
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_store_engine(_url())
    try:
        with engine.connect() as own:
            _run(own)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

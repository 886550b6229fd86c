"""Engines for the store and its migrations.

SQLite (the default, ``sqlite:///path``): the parent directory is created, WAL and a busy
timeout let readers and the one writer share the file, foreign keys are on (labels go with their
ticket), and every write transaction starts with ``BEGIN IMMEDIATE``, so writers (claims
included) take the write lock first and run one at a time instead of failing on a lock upgrade.
This is SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling is turned
off on connect and the ``begin`` event emits the ``BEGIN``. A transaction run with the execution
option ``store_read=True`` begins deferred, so reads never wait for the writer.

PostgreSQL (``postgresql+psycopg://...``; ``postgresql://`` is taken to mean psycopg): pooled
connections are pinged before use; ``schema`` puts the tables in that schema (``search_path``).

Statement parameters are hidden from SQLAlchemy's errors and logs (``hide_parameters``): they
hold redacted text, which is still not for logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

from gateway.errors import ConfigError, ConflictError, StoreUnavailableError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
READ = "store_read"  # execution option: a read-only transaction (SQLite: deferred BEGIN)
BUSY_TIMEOUT_MS = 30_000
_PG_MIGRATION_LOCK = 0x72756272  # pg_advisory_xact_lock key: one migrating process at a time


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; ``postgres(ql)://`` means the psycopg driver."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigError(
            "GATEWAY_DATABASE_URL is not a database URL (sqlite:///path or "
            "postgresql+psycopg://user@host/db)"
        ) from exc
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"the store supports SQLite and PostgreSQL, not {parsed.get_backend_name()!r} "
            "(GATEWAY_DATABASE_URL)"
        )
    return parsed


CONNECT_TIMEOUT_S = 5


def safe_url(url: URL) -> str:
    """The URL with its password masked (``***``), for messages and logs."""
    return url.render_as_string(hide_password=True)


def create_store_engine(url: str | URL, *, schema: str | None = None) -> Engine:
    """An engine for the store: SQLite or PostgreSQL set up as the module docstring says."""
    parsed = url if isinstance(url, URL) else parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        if schema is not None:
            raise ConfigError("a schema applies to PostgreSQL only, not to a SQLite store")
        return _sqlite_engine(parsed)
    # a server that does not answer (a dropped route, a firewall) fails a connect in seconds,
    # not after the kernel's minutes: the request gets its 503 and the recorder its retry
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if schema is not None:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(
        parsed, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args
    )


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    in_memory = not database or database == ":memory:" or url.query.get("mode") == "memory"
    if in_memory:
        # one connection shared by every thread: for tests and one-off tools only
        engine = create_engine(
            url,
            hide_parameters=True,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        assert database is not None
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"the store's directory for {safe_url(url)} cannot be created "
                f"({type(exc).__name__})"
            ) from exc
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(
            "BEGIN" if conn.get_execution_options().get(READ) else "BEGIN IMMEDIATE"
        )

    return engine


# --------------------------------------------------------------------------- errors


# The foreign errors the store can meet, most specific first, and what each becomes: a
# conflict for a broken constraint, unavailable for everything the database or driver says.
_TRANSLATED: tuple[tuple[type[Exception], type[ConflictError | StoreUnavailableError]], ...] = (
    (sa_exc.IntegrityError, ConflictError),
    (sa_exc.DBAPIError, StoreUnavailableError),
    (sa_exc.TimeoutError, StoreUnavailableError),  # no pooled connection came free in time
)


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Raise the database's errors as the gateway's (``from`` them, so the log keeps the
    cause). ``where`` is the password-free URL. The driver's message is not repeated: it can
    quote values."""
    try:
        yield
    except Exception as exc:
        for foreign, ours in _TRANSLATED:
            if isinstance(exc, foreign):
                cause = getattr(exc, "orig", None) or exc
                if ours is ConflictError:
                    message = f"the change conflicts with what the store at {where} holds"
                else:
                    message = f"the labelled-data store at {where} is unavailable"
                raise ours(f"{message} ({type(cause).__name__})") from exc
        raise


# --------------------------------------------------------------------------- migrations


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the package's migrations; with ``connection``, env.py
    migrates over it (inside its transaction)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """``alembic upgrade head`` over one transaction; nothing to do when already at head."""
    head = head_revision()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        current = current_revision(connection)
        if current == head:
            return
        log.info("migrating the store from %s to %s", current or "empty", head)
        try:
            command.upgrade(alembic_config(connection), "head")
        except CommandError as exc:  # e.g. a revision a newer release wrote
            raise ConfigError(
                f"the store's schema is at revision {current!r}, which this release cannot "
                f"migrate from ({exc})"
            ) from exc

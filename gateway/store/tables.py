"""The store's tables (SQLAlchemy 2 declarative). ``migrations/versions`` creates exactly these;
``tests/store`` compares the migrated database with this metadata.

Every datetime is timezone-aware UTC on the way in and on the way out (``UTCDateTime``): SQLite
keeps it as naive UTC text, PostgreSQL as ``timestamptz``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# the partial unique index that keeps one head per stage and axis (only these stages)
LIVE_STAGES_WHERE = "stage IN ('shadow', 'promoted')"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes both ways; a naive value going in is taken to be UTC already."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite compares datetimes as text: keep one form (naive UTC) so the order is right
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ItemRow(Base):
    """One classified ticket: its redacted text (where kept) and the prediction snapshot."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_queue", "queued", "skips", "priority", "classified_at"),
        Index("ix_items_rubric_classified_at", "rubric", "classified_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rubric: Mapped[str] = mapped_column(String, nullable=False)
    fingerprint: Mapped[str] = mapped_column(String, nullable=False)
    axis: Mapped[str] = mapped_column(String, nullable=False)
    request_id: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    external_id: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    shadow: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    decision: Mapped[str] = mapped_column(String, nullable=False)
    priority: Mapped[float] = mapped_column(Float, nullable=False)
    queued: Mapped[bool] = mapped_column(Boolean, nullable=False)
    state: Mapped[str] = mapped_column(String, nullable=False, server_default=sql_text("'open'"))
    skips: Mapped[int] = mapped_column(Integer, nullable=False, server_default=sql_text("0"))
    lease_owner: Mapped[str | None] = mapped_column(String, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # how the newest claim chose it: "margin" (the queue's order) or "random" (an audit pick)
    picked: Mapped[str | None] = mapped_column(String, nullable=True)
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)

    axes: Mapped[list[ItemAxisRow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class ItemAxisRow(Base):
    """One axis a ticket was answered on, so drift reads columns instead of parsing JSON."""

    __tablename__ = "item_axes"

    item_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    axis: Mapped[str] = mapped_column(String, primary_key=True)
    top_label: Mapped[str] = mapped_column(String, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    none_fits: Mapped[bool] = mapped_column(Boolean, nullable=False)


class LabelRow(Base):
    """One human label of one axis of one ticket; the newest per (item, axis) is the answer."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_item_id_axis", "item_id", "axis"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False
    )
    axis: Mapped[str] = mapped_column(String, nullable=False)
    label: Mapped[str] = mapped_column(String, nullable=False)
    who: Mapped[str] = mapped_column(String, nullable=False)
    source: Mapped[str] = mapped_column(String, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class ModelRow(Base):
    """A trained head in the registry."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("rubric", "axis", "version", name="uq_models_rubric_axis_version"),
        Index(
            "uq_models_live_stage",
            "rubric",
            "axis",
            "stage",
            unique=True,
            sqlite_where=sql_text(LIVE_STAGES_WHERE),
            postgresql_where=sql_text(LIVE_STAGES_WHERE),
        ),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    rubric: Mapped[str] = mapped_column(String, nullable=False)
    axis: Mapped[str] = mapped_column(String, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    fingerprint: Mapped[str] = mapped_column(String, nullable=False)
    encoder_sha256: Mapped[str] = mapped_column(String, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    stage: Mapped[str] = mapped_column(String, nullable=False)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    staged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    labels_used: Mapped[int] = mapped_column(Integer, nullable=False)
    cv_macro_f1: Mapped[float] = mapped_column(Float, nullable=False)
    cv_accuracy: Mapped[float] = mapped_column(Float, nullable=False)


class JobRow(Base):
    """One helpdesk job (a webhook to process, a notification to send): the durable queue.

    ``key`` is the idempotency key (helpdesk, connection, ticket, event): a webhook delivered
    twice is one row. No ticket text: the worker fetches the ticket from the helpdesk."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("key", name="uq_jobs_key"),
        Index("ix_jobs_due", "state", "run_at"),
        Index("ix_jobs_ticket", "helpdesk", "connection", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String, nullable=False)
    kind: Mapped[str] = mapped_column(String, nullable=False)
    helpdesk: Mapped[str] = mapped_column(String, nullable=False)
    connection: Mapped[str] = mapped_column(String, nullable=False)
    ticket_id: Mapped[str] = mapped_column(String, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    state: Mapped[str] = mapped_column(String, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=sql_text("0"))
    run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

"""The labelled-data store: items, their axes, labels and the model registry.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE_STAGES_WHERE = "stage IN ('shadow', 'promoted')"


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rubric", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("axis", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("shadow", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("queued", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(), nullable=False, server_default=sa.text("'open'")),
        sa.Column("skips", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("lease_owner", sa.String(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("picked", sa.String(), nullable=True),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_items_request_id", "items", ["request_id"])
    op.create_index("ix_items_external_id", "items", ["external_id"])
    op.create_index("ix_items_classified_at", "items", ["classified_at"])
    op.create_index("ix_items_queue", "items", ["queued", "skips", "priority", "classified_at"])
    op.create_index("ix_items_rubric_classified_at", "items", ["rubric", "classified_at"])

    op.create_table(
        "item_axes",
        sa.Column(
            "item_id",
            sa.Integer(),
            sa.ForeignKey("items.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("axis", sa.String(), primary_key=True),
        sa.Column("top_label", sa.String(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("none_fits", sa.Boolean(), nullable=False),
    )

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("axis", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("who", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_labels_item_id_axis", "labels", ["item_id", "axis"])
    op.create_index("ix_labels_at", "labels", ["at"])

    op.create_table(
        "models",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("rubric", sa.String(), nullable=False),
        sa.Column("axis", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("encoder_sha256", sa.String(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("labels_used", sa.Integer(), nullable=False),
        sa.Column("cv_macro_f1", sa.Float(), nullable=False),
        sa.Column("cv_accuracy", sa.Float(), nullable=False),
        sa.UniqueConstraint("rubric", "axis", "version", name="uq_models_rubric_axis_version"),
    )
    op.create_index(
        "uq_models_live_stage",
        "models",
        ["rubric", "axis", "stage"],
        unique=True,
        sqlite_where=sa.text(LIVE_STAGES_WHERE),
        postgresql_where=sa.text(LIVE_STAGES_WHERE),
    )


def downgrade() -> None:
    op.drop_table("models")
    op.drop_table("labels")
    op.drop_table("item_axes")
    op.drop_table("items")

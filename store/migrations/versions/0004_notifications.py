"""The in-app inbox of notifications, and users' email addresses for emailing them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Written by hand and frozen, like the others: the types are spelled out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        _when("created_at", nullable=False),
        _when("read_at"),
        _when("email_sent_at"),
        sa.PrimaryKeyConstraint("notification_id", "recipient", name="pk_notifications"),
    )
    op.create_index(
        "ix_notifications_recipient_read_at_created_at",
        "notifications",
        ["recipient", "read_at", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_recipient_read_at_created_at", table_name="notifications")
    op.drop_table("notifications")
    # A plain ALTER on SQLite too (3.35+, which RETURNING needs anyway): rebuilding the
    # table, as batch mode would, trips over the foreign key from `tokens`.
    op.drop_column("users", "email")

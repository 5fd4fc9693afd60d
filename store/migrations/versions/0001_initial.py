"""The event store, the inline case projection and projection tracking.

Revision ID: 0001
Revises:
Create Date: 2024-12-04

Written by hand and frozen: it spells the types out instead of importing `store.schema`,
so later changes to the schema cannot change what this migration did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _document(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False)


def upgrade() -> None:
    _events()
    _cases()
    _case_steps()
    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_projection_tracking"),
    )


def _events() -> None:
    op.create_table(
        "events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        _document("data"),
        sa.Column("actor", sa.String(128), nullable=False),
        _when("occurred_at", nullable=False),
        _when("recorded_at", nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
        sa.UniqueConstraint("case_id", "version", name="uq_events_case_id_version"),
        sqlite_autoincrement=True,
    )


def _cases() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("crime_type", sa.String(32), nullable=False),
        sa.Column("assigned_to", sa.String(128), nullable=True),
        sa.Column("institution", sa.String(128), nullable=True),
        _when("opened_at", nullable=False),
        _when("closed_at"),
        sa.Column("closed_reason", sa.String(64), nullable=True),
        _when("last_event_at", nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("open_steps", sa.Integer(), nullable=False),
        _when("next_due_at"),
        sa.Column("identification_outcome", sa.String(32), nullable=True),
        _document("state"),
        sa.PrimaryKeyConstraint("case_id", name="pk_cases"),
    )
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_assigned_to_status", "cases", ["assigned_to", "status"])
    op.create_index("ix_cases_overdue_next_due_at", "cases", ["overdue", "next_due_at"])
    op.create_index("ix_cases_crime_type", "cases", ["crime_type"])
    op.create_index("ix_cases_opened_at_case_id", "cases", ["opened_at", "case_id"])


def _case_steps() -> None:
    op.create_table(
        "case_steps",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _when("opened_at", nullable=False),
        _when("due_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        _when("overdue_since"),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("institution", sa.String(128), nullable=True),
        sa.Column("referral_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", "step", name="pk_case_steps"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.case_id"],
            name="fk_case_steps_case_id_cases",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_case_steps_state", "case_steps", ["state"])
    op.create_index("ix_case_steps_overdue_due_at", "case_steps", ["overdue", "due_at"])
    op.create_index("ix_case_steps_step_state", "case_steps", ["step", "state"])


def downgrade() -> None:
    for table in ("projection_tracking", "case_steps", "cases", "events"):
        op.drop_table(table)

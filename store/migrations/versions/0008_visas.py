"""The visa projection: each visa's dates and state, for reminders, lists and the board.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

No visa number: it is personal data, kept only in the events and the case state. Visa
events stored before this revision (there should be none) get rows on the next
`amparo projections rebuild`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "visas",
        sa.Column("visa_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("last_reminder_days", sa.Integer(), nullable=True),
        _when("expired_at"),
        sa.Column("cancelled_reason", sa.Text(), nullable=True),
        _when("registered_at", nullable=False),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("visa_id", name="pk_visas"),
    )
    op.create_index("ix_visas_state_expires_on", "visas", ["state", "expires_on"])
    op.create_index("ix_visas_case_id", "visas", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_visas_case_id", table_name="visas")
    op.drop_index("ix_visas_state_expires_on", table_name="visas")
    op.drop_table("visas")

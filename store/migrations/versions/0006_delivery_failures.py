"""Deliveries that keep failing (the supervisor board's `delivery_failing`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_failures",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_delivery_failures"),
    )
    op.create_index("ix_delivery_failures_case_id", "delivery_failures", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_failures_case_id", table_name="delivery_failures")
    op.drop_table("delivery_failures")

"""When a waiting step turns stale, on the projection, indexed for the supervisor's board.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Existing rows get it on the next `amparo projections rebuild` (or their next event).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_steps") as batch:
        batch.add_column(sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_case_steps_due_at", "case_steps", ["due_at"])
    op.create_index("ix_case_steps_stale_at", "case_steps", ["stale_at"])


def downgrade() -> None:
    op.drop_index("ix_case_steps_stale_at", table_name="case_steps")
    op.drop_index("ix_case_steps_due_at", table_name="case_steps")
    with op.batch_alter_table("case_steps") as batch:
        batch.drop_column("stale_at")

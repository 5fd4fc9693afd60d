"""The blind index of person names (keyed digests; no name is ever stored here).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_index",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "kind", "digest", name="pk_person_index"),
    )
    op.create_index("ix_person_index_kind_digest", "person_index", ["kind", "digest"])


def downgrade() -> None:
    op.drop_index("ix_person_index_kind_digest", table_name="person_index")
    op.drop_table("person_index")

"""Data protection: the access log (reads of a person's data, failed sign-ins) and each
person's wrapped data key (sealing their personal fields; destroyed on erasure). The
free-text columns `case_steps.reason` and `visas.cancelled_reason` go: personal, they
are kept only in the sealed case state (`amparo projections rebuild` re-seals old rows).

Revision ID: 0011_data_protection
Revises: 0010_referrals
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_data_protection"
down_revision: str | None = "0010_referrals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        _when("at", nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("entry_id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_case_id_at", "access_log", ["case_id", "at"])
    op.create_index("ix_access_log_kind_at", "access_log", ["kind", "at"])
    op.create_table(
        "data_keys",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("master_key_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        _when("created_at", nullable=False),
        _when("erased_at"),
        sa.PrimaryKeyConstraint("case_id", name="pk_data_keys"),
    )

    with op.batch_alter_table("case_steps") as steps:
        steps.drop_column("reason")
    with op.batch_alter_table("visas") as visas:
        visas.drop_column("cancelled_reason")


def downgrade() -> None:
    with op.batch_alter_table("visas") as visas:
        visas.add_column(sa.Column("cancelled_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("case_steps") as steps:
        steps.add_column(sa.Column("reason", sa.Text(), nullable=True))
    op.drop_table("data_keys")
    op.drop_index("ix_access_log_kind_at", table_name="access_log")
    op.drop_index("ix_access_log_case_id_at", table_name="access_log")
    op.drop_table("access_log")

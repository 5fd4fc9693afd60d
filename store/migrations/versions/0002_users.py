"""The user directory: users, bearer tokens (hashed) and login failures for throttling.

Revision ID: 0002
Revises: 0001
Create Date: 2024-12-11

Written by hand and frozen, like 0001: the types are spelled out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("institution", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_users"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        _when("issued_at", nullable=False),
        _when("expires_at", nullable=False),
        _when("revoked_at"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_tokens"),
        sa.ForeignKeyConstraint(["username"], ["users.username"], name="fk_tokens_username_users"),
    )
    op.create_index("ix_tokens_username", "tokens", ["username"])
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _when("last_failure_at", nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_login_failures"),
    )


def downgrade() -> None:
    for table in ("login_failures", "tokens", "users"):
        op.drop_table(table)

"""The referral projection (each referral's institution, state and dates), and the
signatures of institutions' signed answers already taken (to refuse replays).

Revision ID: 0010_referrals
Revises: 0009_caseworker_load
Create Date: 2026-12-04

Referrals stored before this revision (`StepReferred` events) get rows on the next
`amparo projections rebuild`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_referrals"
down_revision: str | None = "0009_caseworker_load"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("institution", sa.String(128), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        _when("referred_at", nullable=False),
        _when("delivered_at"),
        _when("answered_at"),
        sa.Column("decision", sa.String(32), nullable=True),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("redirected_to", sa.Uuid(), nullable=True),
        _when("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name="pk_referrals"),
    )
    op.create_index(
        "ix_referrals_institution_state_referred_at",
        "referrals",
        ["institution", "state", "referred_at"],
    )
    op.create_index("ix_referrals_case_id", "referrals", ["case_id"])
    op.create_table(
        "inbound_signatures",
        sa.Column("digest", sa.String(64), nullable=False),
        _when("seen_at", nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_inbound_signatures"),
    )
    op.create_index("ix_inbound_signatures_seen_at", "inbound_signatures", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_signatures_seen_at", table_name="inbound_signatures")
    op.drop_table("inbound_signatures")
    op.drop_index("ix_referrals_case_id", table_name="referrals")
    op.drop_index("ix_referrals_institution_state_referred_at", table_name="referrals")
    op.drop_table("referrals")

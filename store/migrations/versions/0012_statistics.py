"""Criminal proceedings (their own event streams and projection) and the statistics' view
of each identified person.

Revision ID: 0012_statistics
Revises: 0011_data_protection
Create Date: 2026-12-05

`identified_victims` gets rows for cases stored before this revision on the next
`amparo projections rebuild`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_statistics"
down_revision: str | None = "0011_data_protection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _document(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False)


def _code(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.String(32), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "proceeding_events",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("proceeding_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        _document("data"),
        sa.Column("actor", sa.String(128), nullable=False),
        _when("occurred_at", nullable=False),
        _when("recorded_at", nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_proceeding_events"),
        sa.UniqueConstraint("event_id", name="uq_proceeding_events_event_id"),
        sa.UniqueConstraint(
            "proceeding_id", "version", name="uq_proceeding_events_proceeding_id_version"
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "proceedings",
        sa.Column("proceeding_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _code("crime_type", nullable=False),
        _code("stage", nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        _when("opened_at", nullable=False),
        _when("prosecuted_at"),
        _when("ended_at"),
        _code("verdict"),
        sa.Column("convicted", sa.Integer(), nullable=False),
        sa.Column("imputed", sa.Integer(), nullable=False),
        _code("archive_reason"),
        sa.Column("victims", sa.Integer(), nullable=False),
        _when("last_event_at", nullable=False),
        sa.PrimaryKeyConstraint("proceeding_id", name="pk_proceedings"),
    )
    for column in ("opened_at", "prosecuted_at", "ended_at"):
        op.create_index(f"ix_proceedings_{column}", "proceedings", [column])
    op.create_table(
        "proceeding_victims",
        sa.Column("proceeding_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("proceeding_id", "case_id", name="pk_proceeding_victims"),
    )
    op.create_index("ix_proceeding_victims_case_id", "proceeding_victims", ["case_id"])
    op.create_table(
        "proceeding_imputations",
        sa.Column("proceeding_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        _code("crime_type", nullable=False),
        _when("imputed_at", nullable=False),
        _code("sex", nullable=False),
        sa.Column("nationality", sa.String(2), nullable=True),
        sa.PrimaryKeyConstraint("proceeding_id", "seq", name="pk_proceeding_imputations"),
    )
    op.create_index(
        "ix_proceeding_imputations_imputed_at", "proceeding_imputations", ["imputed_at"]
    )
    op.create_table(
        "identified_victims",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        _code("crime_type", nullable=False),
        _when("opened_at", nullable=False),
        _code("outcome"),
        _when("identified_at"),
        _code("sex", nullable=False),
        _code("age_group"),
        sa.Column("nationality", sa.String(2), nullable=False),
        _document("exploitation_types"),
        _document("means_of_control"),
        _code("recruiter_relation"),
        _code("labour_industry"),
        sa.Column("country_of_exploitation", sa.String(2), nullable=True),
        sa.Column("is_abduction", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_identified_victims"),
    )
    op.create_index("ix_identified_victims_identified_at", "identified_victims", ["identified_at"])


def downgrade() -> None:
    op.drop_index("ix_identified_victims_identified_at", table_name="identified_victims")
    op.drop_table("identified_victims")
    op.drop_index("ix_proceeding_imputations_imputed_at", table_name="proceeding_imputations")
    op.drop_table("proceeding_imputations")
    op.drop_index("ix_proceeding_victims_case_id", table_name="proceeding_victims")
    op.drop_table("proceeding_victims")
    for column in ("ended_at", "prosecuted_at", "opened_at"):
        op.drop_index(f"ix_proceedings_{column}", table_name="proceedings")
    op.drop_table("proceedings")
    op.drop_table("proceeding_events")

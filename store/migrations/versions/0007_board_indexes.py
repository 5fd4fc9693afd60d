"""Indexes for the supervisor's board, the workload and the overdue list at 100,000 cases.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

The board walks `case_steps` in `due_at` / `stale_at` order (per step too) and checks each
row's case; the workload finds the cases with something overdue by institution and
`next_due_at`; the overdue list and the list by status page by `opened_at`. Each new index
starts with the columns of the one it replaces, which it makes redundant
(bench/case_queries.py measures them).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index replaced or None, index, its columns), as store.schema names them.
CHANGES: list[tuple[str, str | None, str, list[str]]] = [
    ("cases", "ix_cases_status", "ix_cases_status_opened_at_case_id",
     ["status", "opened_at", "case_id"]),
    ("cases", "ix_cases_assigned_to_status", "ix_cases_assigned_to_opened_at_case_id",
     ["assigned_to", "opened_at", "case_id"]),
    ("cases", "ix_cases_overdue_next_due_at", "ix_cases_overdue_opened_at_case_id",
     ["overdue", "opened_at", "case_id"]),
    ("cases", None, "ix_cases_institution_next_due_at_status_assigned_to_case_id",
     ["institution", "next_due_at", "status", "assigned_to", "case_id"]),
    ("cases", None, "ix_cases_caseworker_load",
     ["institution", "assigned_to", "status", "open_steps", "next_due_at", "case_id"]),
    ("case_steps", "ix_case_steps_state", "ix_case_steps_case_id_state_due_at_stale_at_step",
     ["case_id", "state", "due_at", "stale_at", "step"]),
    ("case_steps", "ix_case_steps_due_at", "ix_case_steps_due_at_case_id_step_state",
     ["due_at", "case_id", "step", "state"]),
    ("case_steps", "ix_case_steps_stale_at", "ix_case_steps_stale_at_case_id_step_state",
     ["stale_at", "case_id", "step", "state"]),
    ("case_steps", "ix_case_steps_step_state", "ix_case_steps_step_due_at_case_id_state",
     ["step", "due_at", "case_id", "state"]),
    ("case_steps", None, "ix_case_steps_step_stale_at_case_id_state",
     ["step", "stale_at", "case_id", "state"]),
    ("delivery_failures", None, "ix_delivery_failures_since_case_id", ["since", "case_id"]),
]  # fmt: skip
# What the replaced indexes indexed, to put them back.
REPLACED = {
    "ix_cases_status": ["status"],
    "ix_cases_assigned_to_status": ["assigned_to", "status"],
    "ix_cases_overdue_next_due_at": ["overdue", "next_due_at"],
    "ix_case_steps_state": ["state"],
    "ix_case_steps_due_at": ["due_at"],
    "ix_case_steps_stale_at": ["stale_at"],
    "ix_case_steps_step_state": ["step", "state"],
}


def upgrade() -> None:
    for table, old, name, columns in CHANGES:
        op.create_index(name, table, columns)
        if old is not None:
            op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, name, _ in reversed(CHANGES):
        if old is not None:
            op.create_index(old, table, REPLACED[old])
        op.drop_index(name, table_name=table)

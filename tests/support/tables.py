"""Whole-table snapshots, for tests that compare what the store wrote."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from store.schema import case_steps, cases


def projection_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row and column of the case projection tables, in primary-key order."""
    with engine.connect() as conn:
        return {
            table.name: [
                dict(row)
                for row in conn.execute(
                    select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in (cases, case_steps)
        }

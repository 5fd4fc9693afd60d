"""Which deliveries for a case keep failing, as the delivering activities report them.

Written from the activity (not by polling Temporal): a failing attempt past the domain's
threshold records or refreshes a row; the first success removes it, so the board shows
`delivery_failing` exactly while the cause lasts.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, delete

from store.db import insert
from store.schema import delivery_failures


class DeliveryHealth:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def failing(
        self, delivery_id: UUID, *, case_id: UUID, kind: str, at: datetime, attempts: int,
        error: str,
    ) -> None:  # fmt: skip
        """Record (or refresh) a delivery that keeps failing; `since` keeps the first time."""
        row = {
            "delivery_id": delivery_id, "case_id": case_id, "kind": kind, "since": at,
            "attempts": attempts, "error": error[:200],
        }  # fmt: skip
        with self._engine.begin() as conn:
            statement = insert(conn, delivery_failures).values(row)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["delivery_id"],
                    set_={"attempts": attempts, "error": error[:200]},
                )
            )

    def recovered(self, delivery_id: UUID) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                delete(delivery_failures).where(delivery_failures.c.delivery_id == delivery_id)
            )

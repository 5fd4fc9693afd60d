"""The stored state of one case, for activities that act on what the store holds.

Read from the case projection's `state` column (the fold of every stored event), so an
activity started after an event was stored always sees that event.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Engine, select

from domain import CaseState
from store.schema import cases


def stored_state(engine: Engine, case_id: UUID) -> CaseState | None:
    """The case as stored, or None if no case was opened with this id."""
    query = select(cases.c.state).where(cases.c.case_id == case_id)
    with engine.connect() as conn:
        state = conn.execute(query).scalar_one_or_none()
    return None if state is None else CaseState.model_validate(state)

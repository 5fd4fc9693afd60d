"""The stored state of cases, opened: for activities and reads that need the person.

Read from the case projection's `state` column (the fold of every stored event), so an
activity started after an event was stored always sees that event. Personal fields are
sealed there (`store.sealing`); they are opened with each case's data key, read anew, so
an erased person reads as erased at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, select

from domain import CaseState
from domain.personal import sealed
from store.schema import cases
from store.sealing import DataKeys


def stored_states(
    engine: Engine, case_ids: Iterable[UUID], keys: DataKeys | None = None
) -> dict[UUID, CaseState]:
    """The states of these cases (those opened), personal fields opened with `keys`."""
    wanted = list(set(case_ids))
    if not wanted:
        return {}
    query = select(cases.c.case_id, cases.c.state).where(cases.c.case_id.in_(wanted))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        openers = keys.for_opening(conn, wanted) if keys is not None else {}
    found: dict[UUID, CaseState] = {}
    for case_id, state in rows:
        opener = openers.get(case_id)
        context: dict[str, Any] | None = sealed(opener) if opener is not None else None
        found[case_id] = CaseState.model_validate(state, context=context)
    return found


def opened_state(
    conn: Connection, case_id: UUID, state: str, keys: DataKeys | None = None
) -> CaseState:
    """A case's stored state as JSON text (`cases.state` read as text), personal fields
    opened with the key read now in `conn`: validated in one call, without a dict between."""
    opener = keys.for_opening(conn, [case_id]).get(case_id) if keys is not None else None
    return CaseState.model_validate_json(
        state, context=sealed(opener) if opener is not None else None
    )


def stored_state(engine: Engine, case_id: UUID, keys: DataKeys | None = None) -> CaseState | None:
    """The case as stored, or None if no case was opened with this id."""
    return stored_states(engine, [case_id], keys).get(case_id)

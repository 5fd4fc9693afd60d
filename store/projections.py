"""The case projection: `cases` and `case_steps`, the fold of each case's events.

Inline: `CaseProjector.apply` runs inside the append's transaction, so what a screen
reads is never behind what was stored. `rebuild` refolds every event; both paths turn a
`CaseState` into rows with the same two functions, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC
from enum import StrEnum
from itertools import islice
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from domain import CaseState, Event, evolve
from domain.supervision import stale_since
from domain.vocabulary import Step
from store.db import serialize_appends
from store.errors import VersionConflict
from store.schema import case_steps, cases, events, stored_event

Progress = Callable[[int], None]

# Built once: building a statement costs more than running it on SQLite.
_LOAD_STATES = select(cases.c.case_id, cases.c.state).where(
    cases.c.case_id.in_(bindparam("case_ids", expanding=True))
)
_UPDATE_CASE = update(cases).where(cases.c.case_id == bindparam("row_case_id"))
_UPDATE_STEP = update(case_steps).where(
    case_steps.c.case_id == bindparam("row_case_id"),
    case_steps.c.step == bindparam("row_step"),
)


def _value(member: StrEnum | None) -> str | None:
    return None if member is None else member.value


def case_row(state: CaseState) -> dict[str, Any]:
    """The `cases` row of a case: list and board columns, plus the state to fold on from."""
    # A case closed with steps unfinished (lost contact, …) is neither open nor overdue.
    open_steps = state.open_steps() if state.is_open else []
    identification = state.steps.get(Step.IDENTIFICATION)
    return {
        "case_id": state.case_id,
        "version": state.version,
        "status": state.status.value,
        "crime_type": _value(state.crime_type),
        "assigned_to": state.assigned_to,
        "institution": state.institution,
        "opened_at": state.opened_at,
        "closed_at": state.closed_at,
        "closed_reason": state.closed_reason,
        "last_event_at": state.last_event_at,
        "overdue": any(s.overdue for s in open_steps),
        "open_steps": len(open_steps),
        "next_due_at": min((s.due_at for s in open_steps), default=None),
        "identification_outcome": _value(identification.outcome if identification else None),
        "state": state.model_dump(mode="json"),
    }


def step_rows(state: CaseState) -> list[dict[str, Any]]:
    """The `case_steps` rows of a case, one per step opened so far."""
    return [
        {
            "case_id": state.case_id,
            "step": s.step.value,
            "state": s.state.value,
            "opened_at": s.opened_at,
            "due_at": s.due_at,
            "updated_at": s.updated_at,
            "overdue": s.overdue,
            "overdue_since": s.overdue_since,
            "escalated": s.escalated,
            "acknowledged": s.acknowledged,
            "institution": s.institution,
            "referral_id": s.referral_id,
            "outcome": _value(s.outcome),
            "reason": s.reason,
            "stale_at": stale_since(s, state.sla.stale_days),
        }
        for s in state.steps.values()
    ]


def fold(state: CaseState, new: Iterable[Event]) -> CaseState:
    """`state` after the events it has not seen yet; a skipped version is refused."""
    for event in new:
        if event.version <= state.version:
            continue
        if event.version != state.version + 1:
            raise VersionConflict(
                event.case_id, event.version, f"the stream is at version {state.version}"
            )
        state = evolve(state, _in_utc(event))
    return state


def _in_utc(event: Event) -> Event:
    # The store keeps envelope times in UTC; folding the same instants here keeps the
    # state JSON of the inline path equal to a rebuild's, whatever offset the caller used.
    return event.model_copy(
        update={
            "occurred_at": event.occurred_at.astimezone(UTC),
            "recorded_at": event.recorded_at.astimezone(UTC),
        }
    )


def _by_case(batch: Iterable[Event]) -> dict[UUID, list[Event]]:
    grouped: dict[UUID, list[Event]] = {}
    for event in batch:
        grouped.setdefault(event.case_id, []).append(event)
    return grouped


class CaseProjector:
    """Keeps `cases` and `case_steps` equal to the fold of every case's events."""

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        """Fold newly stored events into the rows of their cases, in `conn`'s transaction."""
        grouped = _by_case(new)
        before = _load_states(conn, grouped)
        after = {
            case_id: fold(before.get(case_id, CaseState()), batch)
            for case_id, batch in grouped.items()
        }
        _write_changes(conn, before, after)

    def rebuild(
        self, engine: Engine, batch_size: int = 10_000, progress: Progress | None = None
    ) -> int:
        """Replace both tables with the fold of every stored event; returns events read.

        One transaction: readers see the old rows until the new ones commit, and appends
        wait (PostgreSQL: the append lock; SQLite: the single writer) meanwhile.
        """
        with engine.begin() as conn:
            serialize_appends(conn)
            conn.execute(delete(case_steps))
            conn.execute(delete(cases))
            states, count = _fold_everything(conn, batch_size, progress)
            _insert_states(conn, list(states.values()), chunk=batch_size)
        return count


def _load_states(conn: Connection, case_ids: Iterable[UUID]) -> dict[UUID, CaseState]:
    rows = conn.execute(_LOAD_STATES, {"case_ids": list(case_ids)})
    return {row.case_id: CaseState.model_validate(row.state) for row in rows}


def _write_changes(
    conn: Connection, before: dict[UUID, CaseState], after: dict[UUID, CaseState]
) -> None:
    _insert_states(conn, [s for key, s in after.items() if key not in before], chunk=1000)
    changed = [
        (before[key], s)
        for key, s in after.items()
        if key in before and s.version != before[key].version
    ]
    if changed:
        conn.execute(_UPDATE_CASE, [_keyed_case(new) for _, new in changed])
        _write_steps(conn, changed)


def _keyed_case(state: CaseState) -> dict[str, Any]:
    row = case_row(state)
    row["row_case_id"] = row.pop("case_id")
    return row


def _write_steps(conn: Connection, pairs: list[tuple[CaseState, CaseState]]) -> None:
    """Insert the steps that opened and update those that changed."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for old, new in pairs:
        for row, status in zip(step_rows(new), new.steps.values(), strict=True):
            previous = old.steps.get(status.step)
            if previous is None:
                inserts.append(row)
            elif previous != status:
                updates.append(_keyed_step(row))
    if inserts:
        conn.execute(insert(case_steps), inserts)
    if updates:
        conn.execute(_UPDATE_STEP, updates)


def _keyed_step(row: dict[str, Any]) -> dict[str, Any]:
    row["row_case_id"] = row.pop("case_id")
    row["row_step"] = row.pop("step")
    return row


def _insert_states(conn: Connection, states: Sequence[CaseState], chunk: int) -> None:
    """Insert new cases and their steps, `chunk` rows per statement batch."""
    for part in _chunks((case_row(s) for s in states), chunk):
        conn.execute(insert(cases), part)
    for part in _chunks((row for s in states for row in step_rows(s)), chunk):
        conn.execute(insert(case_steps), part)


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """`rows` in lists of `size` (itertools.batched arrives with Python 3.12)."""
    source = iter(rows)
    while part := list(islice(source, max(size, 1))):
        yield part


def _fold_everything(
    conn: Connection, batch_size: int, progress: Progress | None
) -> tuple[dict[UUID, CaseState], int]:
    """Every case's state, folded in memory from the whole log, page by page."""
    states: dict[UUID, CaseState] = {}
    after, count = 0, 0
    while page := _page(conn, after, batch_size):
        for row in page:
            event = stored_event(row)
            states[event.case_id] = fold(states.get(event.case_id, CaseState()), [event])
        after, count = page[-1]["position"], count + len(page)
        if progress is not None:
            progress(count)
    return states, count


def _page(conn: Connection, after: int, size: int) -> Sequence[RowMapping]:
    query = select(events).where(events.c.position > after).order_by(events.c.position)
    return conn.execute(query.limit(size)).mappings().all()

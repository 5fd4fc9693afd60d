"""The workload projection (`caseworker_load`, `caseworker_deadlines`), kept by the case projection.

`GET /supervision/workload` asks, per caseworker of an institution: open cases, open steps,
steps overdue now, the oldest due date among them. Counting that from `cases` and
`case_steps` read every case of the institution and every step of the late ones (355 ms at
100,000 cases). Here `caseworker_load` holds the first two counts (a row per caseworker)
and `caseworker_deadlines` the due date of each open step of an open case, indexed by
(institution, due_at): the overdue ones are one index range, counted when asked, since
"overdue" depends on the time of the question.

Only cases with both an institution and a caseworker count; a case closed with steps
unfinished counts for nothing (as in `domain.supervision`). The case projection calls
`write` with each case's state before and after an append, in its transaction, and
`insert_all` on a rebuild: both go through `_load`, so they cannot disagree. Most events
change neither (notes, consent, acknowledgements): those cost no statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, and_, bindparam, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from domain import CaseState
from store.driver import DriverStatement
from store.schema import caseworker_deadlines, caseworker_load

Owner = tuple[str, str]  # (institution, caseworker)
Load = tuple[Owner, dict[str, datetime]] | None  # whose, and each open step's due date


def _load(state: CaseState | None) -> Load:
    """What the case adds to its caseworker's load: nothing unless open and assigned."""
    if state is None or not (state.is_open and state.institution and state.assigned_to):
        return None
    due = {s.step.value: s.due_at for s in state.open_steps()}
    return (state.institution, state.assigned_to), due


def write(conn: Connection, old: CaseState | None, new: CaseState) -> None:
    """Move the case's share of the load from `old` (None: a new case) to `new`."""
    before, after = _load(old), _load(new)
    if before == after:
        return
    sql = _statements(conn.dialect)
    counts = _count_changes(before, after)
    sql.add.run(conn, [_count_row(owner, c) for owner, c in counts.items()])
    emptied = [_key(owner) for owner, (cases, _) in counts.items() if cases < 0]
    sql.drop_empty.run(conn, emptied)
    gone, added = _deadline_changes(before, after)
    sql.delete_deadline.run(conn, [{"row_case_id": new.case_id, "row_step": s} for s in gone])
    sql.insert_deadline.run(conn, [_deadline(new, after, step) for step in added])


def insert_all(conn: Connection, states: Iterable[CaseState], chunk: int) -> None:
    """The rows of these cases (a rebuild, into empty tables), `chunk` rows per batch."""
    counts: dict[Owner, list[int]] = {}
    deadlines: list[dict[str, Any]] = []
    for state in states:
        load = _load(state)
        if load is None:
            continue
        owner, due = load
        total = counts.setdefault(owner, [0, 0])
        total[0], total[1] = total[0] + 1, total[1] + len(due)
        deadlines += [_deadline(state, load, step) for step in due]
    sql = _statements(conn.dialect)
    rows = [_count_row(owner, (c, s)) for owner, (c, s) in sorted(counts.items())]
    for part in (rows[i : i + chunk] for i in range(0, len(rows), chunk)):
        sql.insert_load.run(conn, part)
    for part in (deadlines[i : i + chunk] for i in range(0, len(deadlines), chunk)):
        sql.insert_deadline.run(conn, part)


def clear(conn: Connection) -> None:
    """Empty both tables (a rebuild starts here)."""
    conn.execute(delete(caseworker_deadlines))
    conn.execute(delete(caseworker_load))


def _count_changes(before: Load, after: Load) -> dict[Owner, tuple[int, int]]:
    """(open cases, open steps) to add per caseworker; none for a caseworker left even."""
    changes: dict[Owner, tuple[int, int]] = {}
    for load, sign in ((before, -1), (after, 1)):
        if load is not None:
            cases, steps = changes.get(load[0], (0, 0))
            changes[load[0]] = (cases + sign, steps + sign * len(load[1]))
    return {owner: change for owner, change in changes.items() if change != (0, 0)}


def _deadline_changes(before: Load, after: Load) -> tuple[list[str], list[str]]:
    """The steps whose deadline row goes, and those whose row comes (a change: both)."""
    old = before[1] if before else {}
    new = after[1] if after else {}
    if before and after and before[0] != after[0]:  # another caseworker: every row moves
        return list(old), list(new)
    gone = [step for step, due in old.items() if new.get(step) != due]
    return gone, [step for step, due in new.items() if old.get(step) != due]


def _count_row(owner: Owner, counts: tuple[int, int]) -> dict[str, Any]:
    return {**_key(owner), "open_cases": counts[0], "open_steps": counts[1]}


def _key(owner: Owner) -> dict[str, Any]:
    return {"row_institution": owner[0], "row_caseworker": owner[1]}


def _deadline(state: CaseState, load: Load, step: str) -> dict[str, Any]:
    assert load is not None
    (institution, caseworker), due = load
    return {"case_id": state.case_id, "step": step, "institution": institution,
            "caseworker": caseworker, "due_at": due[step]}  # fmt: skip


class _Statements:
    """The projection's statements for one dialect, compiled once each."""

    def __init__(self, dialect: Dialect) -> None:
        load, deadlines = caseworker_load, caseworker_deadlines
        values: dict[str, Any] = {
            "institution": bindparam("row_institution"),
            "caseworker": bindparam("row_caseworker"),
            "open_cases": bindparam("open_cases"),
            "open_steps": bindparam("open_steps"),
        }
        self.insert_load = DriverStatement(insert(load).values(values), dialect)
        # Both dialects' upsert: add to the row, or create it.
        upsert = (sqlite if dialect.name == "sqlite" else postgresql).insert(load).values(values)
        added = upsert.on_conflict_do_update(
            index_elements=[load.c.institution, load.c.caseworker],
            set_={
                "open_cases": load.c.open_cases + upsert.excluded.open_cases,
                "open_steps": load.c.open_steps + upsert.excluded.open_steps,
            },
        )
        self.add = DriverStatement(added, dialect)
        # A caseworker with no open case has no row, as after a rebuild.
        self.drop_empty = DriverStatement(
            delete(load).where(_owner_is(load), load.c.open_cases == 0), dialect
        )
        self.insert_deadline = DriverStatement(
            insert(deadlines), dialect, column_keys=[c.name for c in deadlines.c]
        )
        self.delete_deadline = DriverStatement(
            delete(deadlines).where(
                deadlines.c.case_id == bindparam("row_case_id"),
                deadlines.c.step == bindparam("row_step"),
            ),
            dialect,
        )


def _owner_is(table: Any) -> Any:
    return and_(
        table.c.institution == bindparam("row_institution"),
        table.c.caseworker == bindparam("row_caseworker"),
    )


_COMPILED: WeakKeyDictionary[Dialect, _Statements] = WeakKeyDictionary()


def _statements(dialect: Dialect) -> _Statements:
    found = _COMPILED.get(dialect)
    if found is None:
        found = _COMPILED[dialect] = _Statements(dialect)
    return found

"""The case projection: `cases` and `case_steps`, the fold of each case's events.

It also keeps the workload's tables (`store.workload`) from the same states.

Inline: `CaseProjector.apply` runs inside the append's transaction, so what a screen
reads is never behind what was stored. `rebuild` refolds every event; both paths turn a
`CaseState` into rows with the same functions, so they cannot disagree.

This is most of an append's CPU and all of a rebuild's, so: statements are compiled once
and run on the driver (store/driver.py); the state column is written as pydantic's own
JSON; and the projector remembers the states it wrote once their transaction committed,
so the next append of a case folds on from memory instead of parsing the stored state
(only when the row is still at that version; otherwise it is parsed, as it always was).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from itertools import islice
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from pydantic_core import TzInfo
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Text,
    TextClause,
    bindparam,
    cast,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Dialect

from domain import CaseState, Event, evolve
from domain.personal import Sealer, sealed
from domain.supervision import stale_since
from domain.vocabulary import Step
from store import workload
from store.db import pipelined, serialize_appends
from store.driver import DriverStatement
from store.errors import StoreError, VersionConflict
from store.recent import RecentStates
from store.schema import case_steps, cases
from store.sealing import DataKeys

Progress = Callable[[int], None]

# Frozen and never changed in place (evolve copies): one is enough, and building one
# deep-copies every default (it was a third of a rebuild when built per event).
_EMPTY = CaseState()
_ZERO = timedelta(0)


def _value(member: StrEnum | None) -> str | None:
    return None if member is None else member.value


def case_row(state: CaseState, sealer: Sealer | None = None) -> dict[str, Any]:
    """The `cases` row of a case: list and board columns, plus the state to fold on from
    (its personal fields sealed by `sealer`, the case's)."""
    return {**_case_columns(state), "state": state.model_dump(mode="json", context=_ctx(sealer))}


def _ctx(sealer: Sealer | None) -> dict[str, Any] | None:
    return sealed(sealer) if sealer is not None else None


def _case_columns(state: CaseState) -> dict[str, Any]:
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
    }


def _stored_case(state: CaseState, sealer: Sealer | None) -> dict[str, Any]:
    """`case_row` as both paths store it: the state as JSON text, serialised by pydantic."""
    return {**_case_columns(state), "state": state.model_dump_json(context=_ctx(sealer))}


def step_rows(state: CaseState) -> list[dict[str, Any]]:
    """The `case_steps` rows of a case, one per step opened so far."""
    return [_step_row(state, s) for s in state.steps.values()]


def _step_row(state: CaseState, s: Any) -> dict[str, Any]:
    return {
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
        "stale_at": stale_since(s, state.sla.stale_days),
    }


def fold(state: CaseState, new: Iterable[Event]) -> CaseState:
    """`state` after the events it has not seen yet; a skipped version is refused."""
    for event in new:
        state = _fold_one(state, event)
    return state


def _fold_one(state: CaseState, event: Event) -> CaseState:
    if event.version <= state.version:
        return state
    if event.version != state.version + 1:
        raise VersionConflict(
            event.case_id, event.version, f"the stream is at version {state.version}"
        )
    return evolve(state, _in_utc(event))


def _in_utc(event: Event) -> Event:
    # The store keeps envelope times in UTC; folding the same instants here keeps the
    # state JSON of the inline path equal to a rebuild's, whatever offset the caller used.
    occurred, recorded = event.occurred_at, event.recorded_at
    if _as_utc(occurred) and _as_utc(recorded):
        return event  # no copy of the event: the common case, and all of a rebuild
    return event.model_copy(
        update={"occurred_at": occurred.astimezone(UTC), "recorded_at": recorded.astimezone(UTC)}
    )


def _as_utc(moment: datetime) -> bool:
    """`moment` serialises, compares and shifts exactly as its UTC copy would.

    UTC itself, or a fixed offset of zero (pydantic parses "Z" to its own `TzInfo`); not
    a zone such as Europe/London, at zero in winter, whose arithmetic crosses DST.
    """
    zone = moment.tzinfo
    return zone is UTC or (isinstance(zone, timezone | TzInfo) and moment.utcoffset() == _ZERO)


def _by_case(batch: Iterable[Event]) -> dict[UUID, list[Event]]:
    grouped: dict[UUID, list[Event]] = {}
    for event in batch:
        grouped.setdefault(event.case_id, []).append(event)
    return grouped


class CaseProjector:
    """Keeps `cases` and `case_steps` equal to the fold of every case's events.

    It remembers the last state it wrote of up to `recent` cases (least recently appended
    dropped first), once their transaction committed: the next append of such a case
    folds on from memory instead of reading and parsing the stored state, and sets only
    the columns that changed, provided the row is still at that version (another process
    may have appended since). Otherwise the row is read and rewritten whole, as always.
    A remembered state takes about 9 KiB (measured on generated cases): 18 MiB at most.
    """

    def __init__(self, recent: int = 2048, *, keys: DataKeys | None = None) -> None:
        self._recent = RecentStates(recent)
        self._keys = keys

    @property
    def keys(self) -> DataKeys | None:
        """The data keys sealing the personal fields of the state column (None: plain)."""
        return self._keys

    def sealer(self, case_id: UUID) -> Sealer | None:
        return self._keys.for_sealing(case_id) if self._keys is not None else None

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        """Fold newly stored events into the rows of their cases, in `conn`'s transaction.

        Inside `committing()`, the states written are remembered if the transaction commits.
        """
        sql = _statements(conn.dialect)
        with pipelined(conn):  # PostgreSQL: the writes go out together
            written = [
                self._remembered(conn, sql, case_id, batch)
                or _from_row(conn, sql, case_id, batch, self._keys)
                for case_id, batch in _by_case(new).items()
            ]
        self._recent.written(written)

    @contextmanager
    def committing(self) -> Iterator[None]:
        """Around a transaction that calls `apply`: remember its states once it commits."""
        with self._recent.committing():
            yield

    def rebuild(
        self, engine: Engine, batch_size: int = 10_000, progress: Progress | None = None
    ) -> int:
        """Replace both tables with the fold of every stored event; returns events read.

        One transaction: readers see the old rows until the new ones commit, and appends
        wait (PostgreSQL: the append lock; SQLite: the single writer) meanwhile.
        """
        with _gc_paused(), engine.begin() as conn:
            serialize_appends(conn)
            conn.execute(delete(case_steps))
            conn.execute(delete(cases))
            workload.clear(conn)
            states, count = _fold_everything(conn, batch_size, progress, self._keys)
            sealers = self._keys.for_rebuild(conn, states) if self._keys is not None else {}
            _insert_states(
                conn, _statements(conn.dialect), list(states.values()), batch_size, sealers
            )
            workload.insert_all(conn, states.values(), batch_size)
        return count

    def _remembered(
        self, conn: Connection, sql: _Statements, case_id: UUID, batch: list[Event]
    ) -> CaseState | None:
        """The case's new state, folded on from memory and written; None if it can't be."""
        kept = self._recent.get(case_id)
        if kept is None:
            return None
        try:
            new = fold(kept, batch)
        except VersionConflict:  # the row may be further on: let it decide
            return None
        sealer = self.sealer(case_id)
        if new.version == kept.version or not _update(conn, sql, kept, new, True, sealer):
            return None
        workload.write(conn, kept, new)
        return new


def _from_row(
    conn: Connection, sql: _Statements, case_id: UUID, batch: list[Event], keys: DataKeys | None
) -> CaseState:
    """The case's new state, folded on from its stored row (none yet: a new case)."""
    found = sql.load_state.fetch(conn, {"case_id": case_id})
    sealer = keys.for_sealing(case_id) if keys is not None else None  # opens as well
    old = CaseState.model_validate_json(found[0][0], context=_ctx(sealer)) if found else None
    new = fold(old or _EMPTY, batch)
    if old is None:
        _insert_states(conn, sql, [new], 1, {case_id: sealer} if sealer else {})
    elif new.version != old.version:
        _update(conn, sql, old, new, False, sealer)
    workload.write(conn, old, new)
    return new


def _update(
    conn: Connection,
    sql: _Statements,
    old: CaseState,
    new: CaseState,
    exact: bool,
    sealer: Sealer | None,
) -> bool:
    """Update the case's row and steps from `old` to `new`; False if the row wasn't at `old`.

    `exact`: the row is known to hold `old` if it is at its version (this process wrote
    it), so only the columns whose values changed are set, guarded by that version.
    SQLite rewrites every index on a column in the SET list, changed or not (measured: 4×
    the WAL of one commit). Otherwise every column is set, so that a row an older release
    wrote is brought up to date by its next event, as it always was.
    """
    values = _changed(_case_columns(old) if exact else {}, _stored_case(new, sealer), ("case_id",))
    key = {"row_case_id": new.case_id, "row_version": old.version}
    if sql.update(cases, values, guarded=exact).write(conn, {**values, **key}) != 1:
        if exact:
            return False
        raise StoreError(f"case {new.case_id}: its row was not at version {old.version}")
    _write_steps(conn, sql, old, new, exact)
    return True


def _changed(was: dict[str, Any], row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The values of `row` that differ from `was` (all of them when `was` is empty)."""
    return {k: v for k, v in row.items() if k not in keys and (k not in was or was[k] != v)}


def _write_steps(
    conn: Connection, sql: _Statements, old: CaseState, new: CaseState, exact: bool
) -> None:
    """Insert the steps that opened and update those that changed."""
    inserts: list[dict[str, Any]] = []
    for status in new.steps.values():
        previous = old.steps.get(status.step)
        if previous is None:
            inserts.append(_step_row(new, status))
        # Unchanged steps are the very objects of the previous state (evolve copies only
        # the step it changes): identity first saves comparing them field by field.
        elif previous is not status and previous != status:
            was = _step_row(old, previous) if exact else {}
            values = _changed(was, _step_row(new, status), ("case_id", "step"))
            key = {"row_case_id": new.case_id, "row_step": status.step.value}
            if values:
                sql.update(case_steps, values).send(conn, {**values, **key})
    if inserts:
        sql.insert_step.run(conn, inserts)


def _insert_states(
    conn: Connection,
    sql: _Statements,
    states: Sequence[CaseState],
    chunk: int,
    sealers: Mapping[UUID, Sealer],
) -> None:
    """Insert new cases and their steps, `chunk` rows per statement batch."""
    rows = (_stored_case(s, sealers.get(s.case_id)) for s in states)  # type: ignore[arg-type]
    for part in _chunks(rows, chunk):
        sql.insert_case.run(conn, part)
    for part in _chunks((row for s in states for row in step_rows(s)), chunk):
        sql.insert_step.run(conn, part)


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """`rows` in lists of `size` (itertools.batched arrives with Python 3.12)."""
    source = iter(rows)
    while part := list(islice(source, max(size, 1))):
        yield part


def _fold_everything(
    conn: Connection, batch_size: int, progress: Progress | None, keys: DataKeys | None
) -> tuple[dict[UUID, CaseState], int]:
    """Every case's state, folded in memory from the whole log, page by page."""
    states: dict[UUID, CaseState] = {}
    count = 0
    for event in stored_events(conn, batch_size, progress, keys):
        states[event.case_id] = _fold_one(states.get(event.case_id, _EMPTY), event)
        count += 1
    return states, count


def stored_events(
    conn: Connection,
    batch_size: int = 10_000,
    progress: Progress | None = None,
    keys: DataKeys | None = None,
) -> Iterator[Event]:
    """Every stored event in log order, validated (and opened with `keys`), page by page:
    the rebuild's read, which `bench.projection_rebuild` also times alone, as its floor."""
    read, parse = _statements(conn.dialect).read_page, Event.model_validate_json
    after, count = 0, 0
    while page := read.fetch(conn, {"after": after, "size": batch_size}):
        openers = keys.for_opening(conn, {_uuid(row[1]) for row in page}) if keys else {}
        for _, case_id, document in page:
            yield parse(document, context=_ctx(openers.get(_uuid(case_id))))
        after, count = page[-1][0], count + len(page)
        if progress is not None:
            progress(count)


# The log page as one JSON document per event, which pydantic validates in one call (in
# Rust): no row dict, no column conversions in Python and no second validation of their
# results (measured: 30 to 17 us per event on SQLite, 51 to 45 on PostgreSQL; the same
# `Event` either way). The database writes the JSON, so the SQL differs: SQLite keeps
# UUIDs as 32 hex digits (pydantic reads them) and times as UTC wall-clock text ("Z"
# says so); PostgreSQL writes each timestamptz with its offset. The stored payload lacks
# its `type`: it goes back in, as the tag of the payload union.
_EVENT_JSON = {
    "sqlite": "json_object('event_id', event_id, 'case_id', case_id, 'version', version,"
    " 'data', json_set(data, '$.type', type), 'actor', actor,"
    " 'occurred_at', occurred_at || 'Z', 'recorded_at', recorded_at || 'Z')",
    "postgresql": "json_build_object('event_id', event_id, 'case_id', case_id,"
    " 'version', version, 'data', data || jsonb_build_object('type', type), 'actor', actor,"
    " 'occurred_at', occurred_at, 'recorded_at', recorded_at)::text",
}


def _uuid(value: Any) -> UUID:
    """A case id as the driver gives it in a text query (SQLite: 32 hex digits)."""
    return value if isinstance(value, UUID) else UUID(str(value))


def _log_page(dialect: Dialect) -> TextClause:
    """The `size` events after position `after`: (position, case id, the event as JSON
    text; the case id to open its personal fields with)."""
    return text(
        f"SELECT position, case_id, {_EVENT_JSON[dialect.name]} FROM events"  # noqa: S608
        " WHERE position > :after ORDER BY position LIMIT :size"
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A rebuild allocates millions of objects that all live to its end: the cyclic
    collector would traverse them again and again for nothing (2.2× faster without it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- statements, compiled once per dialect ------------------------------------------------

_CASE_KEYS = [c.name for c in cases.c]
_STEP_KEYS = [c.name for c in case_steps.c]


class _Statements:
    """The projection's statements for one dialect, compiled once each."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        # The state goes as pydantic's JSON text: SQLite stores the text, PostgreSQL casts
        # it to jsonb (psycopg sends a str untyped), and neither re-serialises it.
        load = select(cast(cases.c.state, Text)).where(cases.c.case_id == bindparam("case_id"))
        self.load_state = DriverStatement(load, dialect)
        self.insert_case = DriverStatement(
            insert(cases), dialect, column_keys=_CASE_KEYS, as_is=["state"]
        )
        self.insert_step = DriverStatement(insert(case_steps), dialect, column_keys=_STEP_KEYS)
        self.read_page = DriverStatement(_log_page(dialect), dialect)
        self._updates: dict[tuple[str, tuple[str, ...], bool], DriverStatement] = {}

    def update(
        self, table: Table, values: dict[str, Any], guarded: bool = False
    ) -> DriverStatement:
        """UPDATE of the columns `values` names, WHERE `row_<key>` (and `row_version`)."""
        columns = tuple(values)
        found = self._updates.get((table.name, columns, guarded))
        if found is None:
            key = [c == bindparam(f"row_{c.name}") for c in table.primary_key.columns]
            if guarded:
                key.append(table.c.version == bindparam("row_version"))
            as_is = ["state"] if table is cases else []
            found = self._updates[(table.name, columns, guarded)] = DriverStatement(
                update(table).where(*key), self._dialect, column_keys=columns, as_is=as_is
            )
        return found


_COMPILED: WeakKeyDictionary[Dialect, _Statements] = WeakKeyDictionary()


def _statements(dialect: Dialect) -> _Statements:
    found = _COMPILED.get(dialect)
    if found is None:
        found = _COMPILED[dialect] = _Statements(dialect)
    return found

"""The event store: every decision about every case, stored once, in one global order.

`append` is idempotent by event id (the append activity is retried at least once
sometimes), refuses a different event at a taken (case, version), and folds what it
stored into the case projection in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from itertools import pairwise
from typing import Any, Protocol
from uuid import UUID
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, bindparam, func, select, text, tuple_
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError

from domain import Event
from domain.personal import Sealer
from store import db
from store.driver import DriverStatement
from store.errors import StoreError, VersionConflict
from store.projections import CaseProjector
from store.schema import event_row, events, stored_event
from store.sealing import DataKeys

__all__ = ["EventStore", "InlineProjector", "StoreError", "VersionConflict"]
ERASURE = "PersonErased"


class InlineProjector(Protocol):
    """A read model updated in the append's own transaction."""

    def apply(self, conn: Connection, new: Sequence[Event]) -> None: ...


class EventStore:
    """Append-only events with a global `position`; inline projections in the same commit."""

    def __init__(
        self,
        engine: Engine,
        projector: CaseProjector | None = None,
        *,
        also: Sequence[InlineProjector] = (),
        keys: DataKeys | None = None,
    ) -> None:
        """`keys`: the data keys that seal personal fields in the events and the case
        projection (None: stored as they are, as tests of the store's mechanics do)."""
        self._engine = engine
        self._cases = projector or CaseProjector(keys=keys)
        self._keys = keys
        self._projectors: list[InlineProjector] = [self._cases, *also]

    @property
    def keys(self) -> DataKeys | None:
        return self._keys

    @property
    def engine(self) -> Engine:
        return self._engine

    def append(self, new: Sequence[Event]) -> int:
        """Store the events not stored yet, in one transaction; returns how many were new.

        A batch may hold several cases; each case's events get positions in version
        order. Re-appending stored events returns 0 and leaves the projections alone.
        Raises `VersionConflict` (and stores nothing of the batch) if a version is taken
        by a different event or skips ahead of its stream.
        """
        batch = _in_case_order(new)
        if not batch:
            return 0
        # Before the transaction: a new case's data key is made (and kept) in its own.
        keys = self._keys
        sealers = {c: keys.for_sealing(c) for c in {e.case_id for e in batch}} if keys else {}
        try:
            with self._cases.committing(), self._engine.begin() as conn:
                return self._append(conn, batch, sealers)
        except IntegrityError as exc:
            conflict = self._find_conflict(batch)
            if conflict is None:
                raise
            raise conflict from exc

    def read_stream(self, case_id: UUID, after_version: int = 0) -> list[Event]:
        """One case's events after `after_version`, in version order."""
        query = (
            select(events)
            .where(events.c.case_id == case_id, events.c.version > after_version)
            .order_by(events.c.version)
        )
        with self._engine.connect() as conn:
            opener = self._openers(conn, [case_id]).get(case_id)
            return [stored_event(row, opener) for row in conn.execute(query).mappings()]

    def read_all(self, after: int = 0, limit: int | None = None) -> list[tuple[int, Event]]:
        """(position, event) pairs after position `after`, in position order."""
        query = select(events).where(events.c.position > after).order_by(events.c.position)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
            openers = self._openers(conn, {row["case_id"] for row in rows})
            return [
                (row["position"], stored_event(row, openers.get(row["case_id"]))) for row in rows
            ]

    def _openers(self, conn: Connection, case_ids: Iterable[UUID]) -> Mapping[UUID, Sealer]:
        return self._keys.for_opening(conn, case_ids) if self._keys is not None else {}

    def last_position(self) -> int:
        """The highest position stored, 0 when empty."""
        with self._engine.connect() as conn:
            return conn.execute(select(func.max(events.c.position))).scalar_one() or 0

    def _append(self, conn: Connection, batch: list[Event], sealers: Mapping[UUID, Sealer]) -> int:
        with db.pipelined(conn):  # BEGIN, the lock and the INSERT: one round trip
            db.serialize_appends(conn)
            stored = _insert_new(conn, batch, sealers)
        fresh = [event for event in batch if event.event_id in stored]
        for projector in self._projectors if fresh else ():
            projector.apply(conn, fresh)
        for event in fresh:  # the erasure and the key's destruction commit together
            if event.type == ERASURE and self._keys is not None:
                self._keys.erase(conn, event.case_id, event.recorded_at)
        return len(fresh)

    def _find_conflict(self, batch: list[Event]) -> VersionConflict | None:
        """After a failed append: which offered event lost its (case, version) to another."""
        offered = {(e.case_id, e.version): e.event_id for e in batch}
        key = tuple_(events.c.case_id, events.c.version)
        query = select(events.c.case_id, events.c.version, events.c.event_id).where(
            key.in_(list(offered))
        )
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                wanted = offered[(row.case_id, row.version)]
                if wanted != row.event_id:
                    detail = f"taken by event {row.event_id}, so event {wanted} cannot be stored"
                    return VersionConflict(row.case_id, row.version, detail)
        return None


def _insert_new(conn: Connection, batch: list[Event], sealers: Mapping[UUID, Sealer]) -> set[UUID]:
    """Insert the batch, skipping stored event ids; returns the ids inserted now.

    Counted from RETURNING (psycopg reports rowcount -1 for executemany), run on the
    driver: on PostgreSQL one statement of arrays, on SQLite one multi-row INSERT per
    `_ROWS` events, its parameters made row by row with the columns' processors and the
    ids it returns matched as the driver gives them (the text that was bound).
    """
    if not db.is_sqlite(conn):
        return _insert_arrays(conn, batch, sealers)
    inserted: set[UUID] = set()
    width = len(_COLUMNS)
    for start in range(0, len(batch), _ROWS):
        part = batch[start : start + _ROWS]
        statement = _insert_statement(conn, len(part))
        columns = list(zip(_COLUMNS, [p for _, p in statement.binds[:width]], strict=True))
        params: list[Any] = []
        for event in part:
            row = event_row(event, sealers.get(event.case_id))
            params += [row[c] if p is None else p(row[c]) for c, p in columns]
        bound = {params[i * width]: event.event_id for i, event in enumerate(part)}
        inserted.update(bound[event_id] for (event_id,) in statement.fetch_raw(conn, params))
    return inserted


# PostgreSQL: the batch as one array per column, whatever its size. A multi-row VALUES
# has 8 parameters per event, and psycopg re-parses a statement of more than 50 on every
# execution (and never prepares it): that cost a third of a ten-event append's CPU.
# ORDER BY the ordinality: positions are given in the batch's order (version order).
_ARRAY_INSERT = text(
    "INSERT INTO events (event_id, case_id, version, type, data, actor, occurred_at,"
    " recorded_at) SELECT e, c, v, t, d::jsonb, a, o, r FROM unnest("
    "CAST(:event_id AS uuid[]), CAST(:case_id AS uuid[]), CAST(:version AS integer[]),"
    " CAST(:type AS text[]), CAST(:data AS text[]), CAST(:actor AS text[]),"
    " CAST(:occurred_at AS timestamptz[]), CAST(:recorded_at AS timestamptz[]))"
    " WITH ORDINALITY AS batch (e, c, v, t, d, a, o, r, n) ORDER BY n"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


def _insert_arrays(
    conn: Connection, batch: list[Event], sealers: Mapping[UUID, Sealer]
) -> set[UUID]:
    rows = [event_row(e, sealers.get(e.case_id)) for e in batch]
    values: dict[str, list[Any]] = {c: [row[c] for row in rows] for c in _COLUMNS}
    for moment in ("occurred_at", "recorded_at"):  # as the column type binds them
        values[moment] = [v.astimezone(UTC) for v in values[moment]]
    statement = _INSERTS.setdefault(conn.dialect, {}).get(0)
    if statement is None:
        statement = DriverStatement(_ARRAY_INSERT, conn.dialect, as_is=_COLUMNS)
        _INSERTS[conn.dialect][0] = statement
    return {event_id for (event_id,) in statement.fetch(conn, values)}


_ROWS = 100  # events per INSERT: well under SQLite's 32,766 parameters
_INSERTS: WeakKeyDictionary[Dialect, dict[int, DriverStatement]] = WeakKeyDictionary()


def _insert_statement(conn: Connection, rows: int) -> DriverStatement:
    """`INSERT … VALUES (…) × rows ON CONFLICT (event_id) DO NOTHING RETURNING event_id`."""
    compiled = _INSERTS.setdefault(conn.dialect, {})
    found = compiled.get(rows)
    if found is None:
        values = [
            {c: bindparam(f"{c}_{i}", type_=events.c[c].type) for c in _COLUMNS}
            for i in range(rows)
        ]
        statement = (
            db.insert(conn, events)
            .values(values)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(events.c.event_id)
        )
        as_is = [f"data_{i}" for i in range(rows)]  # event_row gives the JSON text
        found = DriverStatement(statement, conn.dialect, as_is=as_is)
        # `_insert_new` fills the parameters row by row, with the first row's processors.
        names = [f"{c}_{i}" for i in range(rows) for c in _COLUMNS]
        assert [name for name, _ in found.binds] == names, "columns bound out of order"
        compiled[rows] = found
    return found


_COLUMNS = [c.name for c in events.c if c.name != "position"]


def _in_case_order(new: Sequence[Event]) -> list[Event]:
    """The batch, each case's events together and in version order, duplicates dropped."""
    first: dict[UUID, int] = {}
    unique: dict[UUID, Event] = {}
    for index, event in enumerate(new):
        first.setdefault(event.case_id, index)
        kept = unique.setdefault(event.event_id, event)
        if kept is not event and kept != event:
            raise StoreError(f"event {event.event_id} is twice in the batch, different each time")
    ordered = sorted(unique.values(), key=lambda e: (first[e.case_id], e.version))
    for previous, event in pairwise(ordered):
        if (previous.case_id, previous.version) == (event.case_id, event.version):
            raise VersionConflict(event.case_id, event.version, "two events of the batch")
    return ordered

"""The event store: every decision about every case, stored once, in one global order.

`append` is idempotent by event id (the append activity is retried at least once
sometimes), refuses a different event at a taken (case, version), and folds what it
stored into the case projection in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol
from uuid import UUID

from sqlalchemy import Engine, func, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import Executable

from domain import Event
from store import db
from store.errors import StoreError, VersionConflict
from store.projections import CaseProjector
from store.schema import event_row, events, stored_event

__all__ = ["EventStore", "InlineProjector", "StoreError", "VersionConflict"]


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
    ) -> None:
        self._engine = engine
        self._projectors: list[InlineProjector] = [projector or CaseProjector(), *also]

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
        try:
            with self._engine.begin() as conn:
                return self._append(conn, batch)
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
            return [stored_event(row) for row in conn.execute(query).mappings()]

    def read_all(self, after: int = 0, limit: int | None = None) -> list[tuple[int, Event]]:
        """(position, event) pairs after position `after`, in position order."""
        query = select(events).where(events.c.position > after).order_by(events.c.position)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).mappings()
            return [(row["position"], stored_event(row)) for row in rows]

    def last_position(self) -> int:
        """The highest position stored, 0 when empty."""
        with self._engine.connect() as conn:
            return conn.execute(select(func.max(events.c.position))).scalar_one() or 0

    def _append(self, conn: Connection, batch: list[Event]) -> int:
        db.serialize_appends(conn)
        stored = _insert_new(conn, batch)
        fresh = [event for event in batch if event.event_id in stored]
        for projector in self._projectors if fresh else ():
            projector.apply(conn, fresh)
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


def _insert_new(conn: Connection, batch: list[Event]) -> set[UUID]:
    """Insert the batch, skipping stored event ids; returns the ids inserted now.

    Counted from RETURNING: psycopg reports rowcount -1 for executemany.
    """
    statement = _INSERT_NEW.get(conn.dialect.name)
    if statement is None:
        statement = _INSERT_NEW[conn.dialect.name] = (
            db.insert(conn, events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(events.c.event_id)
        )
    return set(conn.execute(statement, [event_row(e) for e in batch]).scalars())


# Built once per dialect: building a statement costs more than running it on SQLite.
_INSERT_NEW: dict[str, Executable] = {}


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

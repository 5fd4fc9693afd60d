"""The proceedings' event streams (`proceeding_events`) and their projection.

A proceeding has no workflow (no timers, no activities): its commands are decided on the
state read here and appended with the stream's next version, so the unique (proceeding,
version) is what makes two writers take turns (`VersionConflict` for the loser, who
decides again: `amparo.proceedings`). The append folds what it stored into `proceedings`,
`proceeding_victims` and `proceeding_imputations` in the same transaction; `rebuild` refolds
every stored event. Both go through `_ProjectionRows`, fed by the domain's own
`evolve_proceeding`, so they cannot disagree.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    false,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from domain.proceedings import (
    ArchiveReason,
    InvestigationOpened,
    PersonsImputed,
    ProceedingEvent,
    ProceedingStage,
    ProceedingState,
    Verdict,
    VictimsLinked,
    evolve_proceeding,
    evolve_proceeding_all,
)
from domain.vocabulary import CrimeType
from store import cursor as cursors
from store import db
from store.cursor import InvalidCursor
from store.errors import StoreError, VersionConflict
from store.schema import (
    cases,
    proceeding_events,
    proceeding_imputations,
    proceeding_victims,
    proceedings,
)

__all__ = [
    "InvalidCursor",
    "ProceedingPage",
    "ProceedingStore",
    "ProceedingSummary",
    "VersionConflict",
    "rebuild",
]

Row = dict[str, Any]
_PAGE = 5_000  # events per page read by `rebuild`


# --- the projection's rows -----------------------------------------------------------------


@dataclass
class _ProjectionRows:
    """What some proceedings' events put in the three tables (their states on the side)."""

    states: dict[UUID, ProceedingState] = field(default_factory=dict)
    victims: list[Row] = field(default_factory=list)
    imputations: list[Row] = field(default_factory=list)

    def fold(self, event: ProceedingEvent) -> None:
        """One more event of a proceeding (in version order): its new victim and
        imputation rows, and the proceeding's state after it."""
        before = self.states.get(event.proceeding_id, ProceedingState())
        after = evolve_proceeding(before, event)
        self.states[event.proceeding_id] = after
        data = event.data
        if isinstance(data, InvestigationOpened | VictimsLinked):
            new = (c for c in dict.fromkeys(data.case_ids) if c not in before.case_ids)
            self.victims += [{"proceeding_id": event.proceeding_id, "case_id": c} for c in new]
        elif isinstance(data, PersonsImputed):
            crime_type = _code(after.crime_type)
            self.imputations += [
                {
                    "proceeding_id": event.proceeding_id,
                    "seq": before.imputed + number,
                    "crime_type": crime_type,
                    "imputed_at": event.occurred_at,
                    "sex": person.sex.value,
                    "nationality": person.nationality,
                }
                for number, person in enumerate(data.persons, start=1)
            ]

    def proceeding_rows(self) -> list[Row]:
        return [_proceeding_row(s) for s in self.states.values() if s.stage is not None]


def _code(value: Any) -> Any:
    return None if value is None else value.value


def _proceeding_row(state: ProceedingState) -> Row:
    """The `proceedings` row of an opened proceeding."""
    return {
        "proceeding_id": state.proceeding_id,
        "version": state.version,
        "crime_type": _code(state.crime_type),
        "stage": _code(state.stage),
        "reference": state.reference,
        "opened_at": state.opened_at,
        "prosecuted_at": state.prosecuted_at,
        "ended_at": state.ended_at,
        "verdict": _code(state.verdict),
        "convicted": state.convicted,
        "imputed": state.imputed,
        "archive_reason": _code(state.archive_reason),
        "victims": len(set(state.case_ids)),
        "last_event_at": state.last_event_at,
    }


# --- reads ---------------------------------------------------------------------------------


class ProceedingSummary(BaseModel):
    """A proceeding as the projection keeps it (victims counted, not listed)."""

    model_config = ConfigDict(frozen=True)

    proceeding_id: UUID
    version: int
    crime_type: CrimeType
    stage: ProceedingStage
    reference: str | None
    opened_at: datetime
    prosecuted_at: datetime | None
    ended_at: datetime | None
    verdict: Verdict | None
    convicted: int
    imputed: int
    archive_reason: ArchiveReason | None
    victims: int
    last_event_at: datetime


class ProceedingPage(BaseModel):
    """One page of proceedings, newest first; `next_cursor` None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: tuple[ProceedingSummary, ...]
    next_cursor: str | None = None


# --- the store -----------------------------------------------------------------------------


class ProceedingStore:
    """Append-only proceeding events, their projection updated in the same commit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def append(self, new: Sequence[ProceedingEvent]) -> int:
        """Store the events not stored yet (by event id), in one transaction, folding them
        into the projection; returns how many were new. Raises `VersionConflict` (and
        stores nothing) if a version is taken by another event or skips ahead."""
        batch = _in_stream_order(new)
        if not batch:
            return 0
        try:
            with self._engine.begin() as conn:
                stored = _insert_new(conn, batch)
                fresh = [event for event in batch if event.event_id in stored]
                if fresh:
                    _project(conn, fresh)
                return len(fresh)
        except IntegrityError as exc:
            conflict = self._find_conflict(batch)
            if conflict is None:
                raise
            raise conflict from exc

    def read_stream(self, proceeding_id: UUID) -> list[ProceedingEvent]:
        """One proceeding's events, in version order (none: never opened)."""
        with self._engine.connect() as conn:
            return _stream(conn, proceeding_id)

    def state(self, proceeding_id: UUID) -> ProceedingState:
        """The proceeding as its events leave it (empty: never opened)."""
        return evolve_proceeding_all(self.read_stream(proceeding_id))

    def rebuild(self) -> int:
        """Replace the projection with the fold of every stored event; returns how many were
        read. One transaction, appends waiting meanwhile (they would be lost otherwise)."""
        rows = _ProjectionRows()
        count = 0
        with self._engine.begin() as conn:
            if not db.is_sqlite(conn):  # SQLite: the DELETE below takes the one write lock
                conn.execute(text("LOCK TABLE proceeding_events IN EXCLUSIVE MODE"))
            for table in (proceeding_imputations, proceeding_victims, proceedings):
                conn.execute(delete(table))
            for event in _all_events(conn):
                rows.fold(event)
                count += 1
            _insert_rows(conn, rows.proceeding_rows(), rows.victims, rows.imputations)
        return count

    def get(self, proceeding_id: UUID) -> ProceedingSummary | None:
        """One proceeding, or None if none was opened with this id."""
        query = select(proceedings).where(proceedings.c.proceeding_id == proceeding_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else ProceedingSummary.model_validate(dict(row))

    def list(
        self,
        *,
        crime_type: CrimeType | None = None,
        stage: ProceedingStage | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ProceedingPage:
        """Proceedings, the most recently opened first, filtered."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(proceedings)
        if crime_type is not None:
            query = query.where(proceedings.c.crime_type == crime_type.value)
        if stage is not None:
            query = query.where(proceedings.c.stage == stage.value)
        if cursor is not None:
            query = query.where(_after(*cursors.decode(cursor)))
        query = query.order_by(proceedings.c.opened_at.desc(), proceedings.c.proceeding_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit + 1)).mappings().all()
        found = [ProceedingSummary.model_validate(dict(row)) for row in rows]
        if len(found) <= limit:
            return ProceedingPage(items=tuple(found))
        items = found[:limit]
        return ProceedingPage(
            items=tuple(items),
            next_cursor=cursors.encode(items[-1].opened_at, items[-1].proceeding_id),
        )

    def victims(
        self, proceeding_ids: Iterable[UUID], *, scope: Mapping[str, str | None] | None = None
    ) -> dict[UUID, builtins.list[UUID]]:
        """The case ids linked to each proceeding, sorted; with `scope` (`assigned_to`,
        `institution`: `api.access.list_scope`), only the cases it admits."""
        ids = builtins.list(set(proceeding_ids))
        found: dict[UUID, builtins.list[UUID]] = {p: [] for p in ids}
        if not ids:
            return found
        v = proceeding_victims.c
        query = select(v.proceeding_id, v.case_id).where(v.proceeding_id.in_(ids))
        if scope is not None:
            query = query.join(cases, cases.c.case_id == v.case_id)
            for column, value in scope.items():
                query = query.where(false() if value is None else cases.c[column] == value)
        with self._engine.connect() as conn:
            for proceeding_id, case_id in conn.execute(query.order_by(v.case_id)):
                found[proceeding_id].append(case_id)
        return found

    def _find_conflict(self, batch: builtins.list[ProceedingEvent]) -> VersionConflict | None:
        """After a failed append: which offered event lost its version to another."""
        offered = {(e.proceeding_id, e.version): e.event_id for e in batch}
        e = proceeding_events.c
        query = select(e.proceeding_id, e.version, e.event_id).where(
            tuple_(e.proceeding_id, e.version).in_(builtins.list(offered))
        )
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                wanted = offered[(row.proceeding_id, row.version)]
                if wanted != row.event_id:
                    detail = f"taken by event {row.event_id}, so event {wanted} cannot be stored"
                    return VersionConflict(row.proceeding_id, row.version, detail)
        return None


def rebuild(engine: Engine) -> int:
    """Rebuild the proceedings projection from every proceeding event; how many were read."""
    return ProceedingStore(engine).rebuild()


# --- writing -------------------------------------------------------------------------------


def _in_stream_order(new: Sequence[ProceedingEvent]) -> list[ProceedingEvent]:
    """The batch by proceeding and version, duplicates dropped; two events for one
    version of a stream are a conflict before anything is written."""
    unique: dict[UUID, ProceedingEvent] = {}
    for event in new:
        kept = unique.setdefault(event.event_id, event)
        if kept != event:
            raise StoreError(f"event {event.event_id} is twice in the batch, different each time")
    ordered = sorted(unique.values(), key=lambda e: (str(e.proceeding_id), e.version))
    seen: set[tuple[UUID, int]] = set()
    for event in ordered:
        key = (event.proceeding_id, event.version)
        if key in seen:
            raise VersionConflict(event.proceeding_id, event.version, "two events of the batch")
        seen.add(key)
    return ordered


def _stored_row(event: ProceedingEvent) -> Row:
    return {
        "event_id": event.event_id,
        "proceeding_id": event.proceeding_id,
        "version": event.version,
        "type": event.type,
        "data": event.data_json(),
        "actor": event.actor,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
    }


def _insert_new(conn: Connection, batch: list[ProceedingEvent]) -> set[UUID]:
    """Insert the batch, skipping stored event ids; the ids inserted now."""
    statement = (
        db.insert(conn, proceeding_events)
        .values([_stored_row(e) for e in batch])
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(proceeding_events.c.event_id)
    )
    return {event_id for (event_id,) in conn.execute(statement)}


def _project(conn: Connection, fresh: list[ProceedingEvent]) -> None:
    """Fold the events stored now into the projection, in the append's transaction.

    Each touched stream is read whole (a proceeding has tens of events): the state before
    the new events numbers the new imputations, and the state after is the row.
    """
    rows = _ProjectionRows()
    first_new: dict[UUID, int] = {}
    for event in fresh:
        first_new.setdefault(event.proceeding_id, event.version)
    for proceeding_id, first in first_new.items():
        stream = _stream(conn, proceeding_id)
        if [e.version for e in stream] != builtins.list(range(1, len(stream) + 1)):
            raise VersionConflict(proceeding_id, first, "the stream would skip a version")
        rows.states[proceeding_id] = evolve_proceeding_all(e for e in stream if e.version < first)
        for event in stream:
            if event.version >= first:
                rows.fold(event)
    for row in rows.proceeding_rows():
        changed = conn.execute(
            update(proceedings).where(proceedings.c.proceeding_id == row["proceeding_id"]),
            row,
        )
        if changed.rowcount == 0:
            conn.execute(insert(proceedings), [row])
    _insert_rows(conn, [], rows.victims, rows.imputations)


def _insert_rows(
    conn: Connection, opened: list[Row], victims: list[Row], imputations: list[Row]
) -> None:
    for table, rows in (
        (proceedings, opened),
        (proceeding_victims, victims),
        (proceeding_imputations, imputations),
    ):
        for start in range(0, len(rows), _PAGE):
            conn.execute(insert(table), rows[start : start + _PAGE])


# --- reading events ------------------------------------------------------------------------


def _event(row: RowMapping) -> ProceedingEvent:
    return ProceedingEvent.from_stored(
        event_id=row["event_id"],
        proceeding_id=row["proceeding_id"],
        version=row["version"],
        type=row["type"],
        data=row["data"],
        occurred_at=row["occurred_at"],
        recorded_at=row["recorded_at"],
        actor=row["actor"],
    )


def _stream(conn: Connection, proceeding_id: UUID) -> list[ProceedingEvent]:
    e = proceeding_events.c
    query = select(proceeding_events).where(e.proceeding_id == proceeding_id).order_by(e.version)
    return [_event(row) for row in conn.execute(query).mappings()]


def _all_events(conn: Connection) -> Iterator[ProceedingEvent]:
    """Every stored proceeding event in log order (each stream's in version order), by page."""
    after = 0
    position = proceeding_events.c.position
    while True:
        query = select(proceeding_events).where(position > after).order_by(position).limit(_PAGE)
        page = conn.execute(query).mappings().all()
        if not page:
            return
        for row in page:
            yield _event(row)
        after = page[-1]["position"]


# --- the list's cursor ---------------------------------------------------------------------


def _after(opened_at: datetime, proceeding_id: UUID) -> Any:
    """Rows after the cursor's in (opened_at desc, proceeding_id) order."""
    p = proceedings.c
    return or_(
        p.opened_at < opened_at,
        and_(p.opened_at == opened_at, p.proceeding_id > proceeding_id),
    )

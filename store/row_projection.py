"""Read models of one row per thing a case holds (a visa, a referral), folded from its events.

Inline, `apply` folds an append's events of those types into their rows inside the
append's transaction; `rebuild` refolds every stored event of those types. Both go through
the subclass's `fold`, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, ClassVar
from uuid import UUID
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from domain import Event
from store.db import serialize_appends
from store.driver import DriverStatement
from store.schema import events
from store.sealing import DataKeys, opened_events

Row = dict[str, Any]


class RowProjection:
    """One row per id in `table` (primary key `key`), from the events in `event_types`."""

    table: ClassVar[Table]
    key: ClassVar[str]
    event_types: ClassVar[frozenset[str]]

    def wants(self, event: Event) -> bool:
        """Whether an event of `event_types` changes a row (cheaper than folding it)."""
        return True

    def touched(self, event: Event) -> set[UUID]:
        """The ids whose rows `event` creates or changes."""
        raise NotImplementedError

    def creates(self, event: Event) -> set[UUID]:
        """The ids whose rows `event`, if it changes them, sets whole whatever they held
        (a registration): the append need not read them first."""
        return set()

    def fold(self, rows: dict[UUID, Row], event: Event) -> None:
        """Fold one event into `rows` (keyed by id), in place."""
        raise NotImplementedError

    def applied(self, conn: Connection, rows: dict[UUID, Row]) -> None:
        """After an append's rows are written (in its transaction): anything they imply."""

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        """Fold the newly stored events of an append, in `conn`'s transaction.

        Only the rows an event changes without setting them whole are read first (most
        appends that touch a row create it: a referral sent, a case opened); every row
        folded is written by one upsert, so a row that is there already (a rebuild ran
        meanwhile) ends up the same as if it had been read. Compiled once, on the driver.
        """
        mine = [e for e in new if e.type in self.event_types and self.wants(e)]
        if not mine:
            return
        sql = _statements(conn.dialect, self.table, self.key)
        created: set[UUID] = set()
        unread: set[UUID] = set()
        for event in mine:
            made = self.creates(event)
            unread |= self.touched(event) - made - created
            created |= made
        rows = sql.load(conn, sorted(unread)) if unread else {}
        for event in mine:
            self.fold(rows, event)
        sql.upsert.run(conn, list(rows.values()))
        self.applied(conn, rows)

    def rebuild(
        self, engine: Engine, batch_size: int = 10_000, keys: DataKeys | None = None
    ) -> int:
        """Replace the table with the fold of every stored event of its types; returns how
        many were read. One transaction, appends waiting meanwhile, like the case
        projection's rebuild; personal fields are opened with `keys`."""
        rows: dict[UUID, Row] = {}
        count = 0
        with engine.begin() as conn:
            serialize_appends(conn)
            conn.execute(delete(self.table))
            for event in _events_of(conn, self.event_types, batch_size, keys):
                if self.wants(event):
                    self.fold(rows, event)
                count += 1
            for part in _chunks(rows.values(), batch_size):
                conn.execute(insert(self.table), part)
        return count


def _events_of(
    conn: Connection, kinds: frozenset[str], size: int, keys: DataKeys | None
) -> Iterator[Event]:
    """Every stored event of these types in log order, read page by page."""
    after = 0
    wanted = sorted(kinds)
    while True:
        query = (
            select(events)
            .where(events.c.position > after, events.c.type.in_(wanted))
            .order_by(events.c.position)
            .limit(size)
        )
        page = conn.execute(query).mappings().all()
        if not page:
            return
        yield from opened_events(conn, page, keys)
        after = page[-1]["position"]


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    source = iter(rows)
    while part := list(islice(source, max(size, 1))):
        yield part


class _Statements:
    """A row projection's statements for one dialect, compiled once each."""

    def __init__(self, dialect: Dialect, table: Table, key: str) -> None:
        self._dialect, self._table, self._key = dialect, table, key
        names = [c.name for c in table.c]
        upsert = (sqlite if dialect.name == "sqlite" else postgresql).insert(table)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={n: upsert.excluded[n] for n in names if n != key},
        )
        self.upsert = DriverStatement(upsert, dialect, column_keys=names)
        self._names = names
        self._selects: dict[int, DriverStatement] = {}

    def load(self, conn: Connection, ids: list[UUID]) -> dict[UUID, Row]:
        """The stored rows of these ids, keyed by id (a missing one: no entry)."""
        found: dict[UUID, Row] = {}
        for start in range(0, len(ids), _PER_SELECT):
            part = ids[start : start + _PER_SELECT]
            for values in self._select(len(part)).fetch(
                conn, {f"id_{i}": v for i, v in enumerate(part)}
            ):
                row = dict(zip(self._names, values, strict=True))
                found[row[self._key]] = row
        return found

    def _select(self, count: int) -> DriverStatement:
        found = self._selects.get(count)
        if found is None:
            column = self._table.c[self._key]
            wanted = [bindparam(f"id_{i}", type_=column.type) for i in range(count)]
            query = select(self._table).where(column.in_(wanted))
            found = self._selects[count] = DriverStatement(query, self._dialect)
        return found


_PER_SELECT = 100  # ids per SELECT: each count is compiled once
_COMPILED: WeakKeyDictionary[Dialect, dict[str, _Statements]] = WeakKeyDictionary()


def _statements(dialect: Dialect, table: Table, key: str) -> _Statements:
    by_table = _COMPILED.setdefault(dialect, {})
    found = by_table.get(table.name)
    if found is None:
        found = by_table[table.name] = _Statements(dialect, table, key)
    return found

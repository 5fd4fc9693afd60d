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

from sqlalchemy import Connection, Engine, Table, bindparam, delete, insert, select, update

from domain import Event
from store.db import serialize_appends
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

    def fold(self, rows: dict[UUID, Row], event: Event) -> None:
        """Fold one event into `rows` (keyed by id), in place."""
        raise NotImplementedError

    def applied(self, conn: Connection, rows: dict[UUID, Row]) -> None:
        """After an append's rows are written (in its transaction): anything they imply."""

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        """Fold the newly stored events of an append, in `conn`'s transaction."""
        mine = [e for e in new if e.type in self.event_types and self.wants(e)]
        if not mine:
            return
        ids = list(set().union(*(self.touched(e) for e in mine)))
        column = self.table.c[self.key]
        query = select(self.table).where(column.in_(ids))
        before = {row[self.key]: dict(row) for row in conn.execute(query).mappings()}
        after = dict(before)
        for event in mine:
            self.fold(after, event)
        inserts = [row for key, row in after.items() if key not in before]
        updates = [self._keyed(row) for key, row in after.items() if key in before]
        if inserts:
            conn.execute(insert(self.table), inserts)
        if updates:
            statement = update(self.table).where(column == bindparam(f"row_{self.key}"))
            conn.execute(statement, updates)
        self.applied(conn, after)

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

    def _keyed(self, row: Row) -> Row:
        keyed = dict(row)
        keyed[f"row_{self.key}"] = keyed.pop(self.key)
        return keyed


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

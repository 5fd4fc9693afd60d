"""Core statements compiled once and run on the transaction's own DBAPI cursor.

Only for the hot paths (the append and its inline projection, rebuilds). Measured here,
`Connection.execute` spends more per statement (cache key, execution context, parameter
and result processing) than SQLite takes to run a small INSERT, and an append runs four or
five of them. A `DriverStatement` is the same Core statement, compiled once per dialect
by SQLAlchemy; its parameters and results go through the columns' own bind and result
processors, so the database receives and returns exactly what `execute` would give it.
Same connection, same transaction: nothing here commits or opens anything.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from store.types import UTCDateTime, in_utc

Processor = Callable[[Any], Any] | None
Params = Sequence[Any] | dict[str, Any]


class DriverStatement:
    """`statement` for `dialect`, executed with plain dicts of column values."""

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        *,
        column_keys: Sequence[str] | None = None,
        as_is: Iterable[str] = (),
    ) -> None:
        """`as_is` names parameters already in the driver's form (say, JSON as text)."""
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        names = compiled.positiontup if compiled.positional else list(by_name)
        assert names is not None
        skipped = set(as_is)
        binds = {name: by_name[name] for name in names}
        self._binds: list[tuple[str, Processor]] = [
            (name, None if name in skipped else _bind(b.type, dialect)) for name, b in binds.items()
        ]
        # Parameters the statement gives a value itself (SQLite's OFFSET 0, say).
        self._defaults = {n: b.effective_value for n, b in binds.items() if b.value is not None}
        self._positional = compiled.positional
        returned = getattr(statement, "exported_columns", ())  # SELECT or RETURNING
        self._results: list[Processor] = [_result(c.type, dialect) for c in returned]

    def params(self, values: Mapping[str, Any]) -> Params:
        """The driver's parameters for one execution."""
        if self._defaults:
            values = {**self._defaults, **values}
        if self._positional:
            return [values[n] if p is None else p(values[n]) for n, p in self._binds]
        return {n: values[n] if p is None else p(values[n]) for n, p in self._binds}

    @property
    def binds(self) -> list[tuple[str, Processor]]:
        """The parameters in the driver's order (positional) with their bind processors."""
        return self._binds

    def fetch(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once; the rows it returns (SELECT, RETURNING), processed."""
        return self.rows(self.fetch_raw(conn, self.params(values)))

    def fetch_raw(self, conn: Connection, params: Params) -> Sequence[Any]:
        """Run once with the driver's parameters as they are; its rows as the driver gives them."""
        cursor = conn.connection.cursor()
        try:
            with _as_sqlalchemy_errors(conn, self.sql, params):
                cursor.execute(self.sql, params)
                return cursor.fetchall()
        finally:
            cursor.close()

    def write(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Run once; how many rows it changed (in a pipeline: waits for the count)."""
        params = self.params(values)
        cursor = conn.connection.cursor()
        try:
            with _as_sqlalchemy_errors(conn, self.sql, params), _synced(conn):
                cursor.execute(self.sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def send(self, conn: Connection, values: Mapping[str, Any]) -> None:
        """Run once, not waiting for the outcome inside a pipeline (`store.db.pipelined`):
        an error is raised when the pipeline next waits, and rolls the transaction back."""
        params = self.params(values)
        cursor = conn.connection.cursor()
        try:
            with _as_sqlalchemy_errors(conn, self.sql, params):
                cursor.execute(self.sql, params)
        finally:
            cursor.close()

    def write_many(self, conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        """Run once per row, in one `executemany`."""
        params = [self.params(row) for row in rows]
        cursor = conn.connection.cursor()
        try:
            with _as_sqlalchemy_errors(conn, self.sql, params):
                cursor.executemany(self.sql, params)  # type: ignore[arg-type]
        finally:
            cursor.close()

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row: one `execute`, or one `executemany` for several (`send`)."""
        if len(rows) == 1:
            self.send(conn, rows[0])
        elif rows:
            self.write_many(conn, rows)

    def rows(self, found: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Result rows as SQLAlchemy would give them: processed by their columns' types."""
        results = self._results
        if not any(results):
            return [tuple(row) for row in found]
        return [
            tuple(v if p is None else p(v) for p, v in zip(results, row, strict=True))
            for row in found
        ]


_ONCE: WeakKeyDictionary[Dialect, dict[Hashable, DriverStatement]] = WeakKeyDictionary()


def compiled_once(
    dialect: Dialect, key: Hashable, build: Callable[[], ClauseElement]
) -> DriverStatement:
    """The statement `build` makes, compiled for `dialect` the first time `key` is asked."""
    by_key = _ONCE.setdefault(dialect, {})
    found = by_key.get(key)
    if found is None:
        found = by_key[key] = DriverStatement(build(), dialect)
    return found


@contextmanager
def _as_sqlalchemy_errors(conn: Connection, sql: str, params: Any) -> Iterator[None]:
    """Driver errors raised as `execute` raises them (IntegrityError, OperationalError…)."""
    base = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise DBAPIError.instance(sql, params, exc, base, dialect=conn.dialect) from exc


@contextmanager
def _synced(conn: Connection) -> Iterator[None]:
    """psycopg: a nested pipeline, which waits for every result sent so far on leaving
    (inside `store.db.pipelined`; otherwise a plain round trip, as without it)."""
    if conn.dialect.name == "sqlite":
        yield
        return
    with conn.connection.driver_connection.pipeline():  # type: ignore[union-attr]
        yield


def _bind(type_: Any, dialect: Dialect) -> Processor:
    if isinstance(type_, UTCDateTime) and dialect.name == "sqlite":
        return _sqlite_utc
    return type_.dialect_impl(dialect).bind_processor(dialect)


_SQLITE_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"  # SQLAlchemy's DATETIME storage format


def _sqlite_utc(value: datetime | None) -> str | None:
    """`UTCDateTime`'s bind processor on SQLite, same text, a third of the time: the
    TypeDecorator's chain and the dialect's formatting of a dict were 20 to 30 calls per
    append (tests/unit/test_driver.py compares the two)."""
    if value is None:
        return None
    u = in_utc(value)
    return _SQLITE_DATETIME % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)


def _result(type_: Any, dialect: Dialect) -> Processor:
    return type_.dialect_impl(dialect).result_processor(dialect, None)

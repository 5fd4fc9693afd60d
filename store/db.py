"""Engines, and the one place where SQLite and PostgreSQL differ.

Everything else in `store/` is dialect-neutral SQLAlchemy Core. The differences:

- SQLite (embedded): WAL so readers never block the writer, `synchronous=FULL`
  because these records are worth an fsync per commit, a generous `busy_timeout`
  because there is one writer at a time, foreign keys on (SQLite leaves them off).
- PostgreSQL (production): psycopg 3, a pooled connection checked before use so a
  restarted server costs a reconnect rather than an error (`_check_on_checkout`: without
  a round trip when it can tell), and a table lock that orders appends (below).
- `INSERT … ON CONFLICT` comes from each dialect's own `insert()`.
- `pipelined`: psycopg's pipeline mode around the append's statements (SQLite: nothing).

Three hot paths also differ, each commented where it is: the append's INSERT on
PostgreSQL (arrays, `store.event_store`), the rebuild's log page (JSON built by each
database, `store.projections`) and the workload's upsert (`store.workload`).
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "busy_timeout=30000",
    "foreign_keys=ON",
)


def make_engine(url: str) -> Engine:
    """An engine for `url` (`sqlite:///path` or `postgresql+psycopg://…`), configured."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed)


def is_sqlite(engine: Engine | Connection) -> bool:
    """True for the embedded database."""
    return engine.dialect.name == "sqlite"


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True)  # errors never carry personal data
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _postgres_engine(url: URL) -> Engine:
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not the psycopg2 default
    engine = create_engine(url, hide_parameters=True)  # errors never carry personal data
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _check_on_checkout)
    return engine


# A connection idle longer than this is pinged however healthy its socket looks.
_PING_AFTER_IDLE_S = 5.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _check_on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """`pool_pre_ping` without its round trip on every checkout (one per append: 1 in 8).

    A server that stops or restarts closes its connections: the socket of each pooled one
    turns readable (end of file), and that is checked here without a round trip; a socket
    with something to read, or a connection idle for a while (a peer that vanished without
    closing), gets the ping `pool_pre_ping` would send. A failed ping discards the
    connection and the pool opens a new one, as `pool_pre_ping` does.
    """
    idle = time.monotonic() - record.info.get("checked_in", float("-inf"))
    try:
        if idle < _PING_AFTER_IDLE_S and not _readable(dbapi_connection):
            return
        cursor = dbapi_connection.cursor()
        cursor.execute(";")  # what SQLAlchemy's ping sends to psycopg: an empty query
        cursor.close()
    except Exception as error:  # any failure: this connection is not to be used
        raise exc.DisconnectionError(str(error)) from error


def _readable(dbapi_connection: Any) -> bool:
    """Something waits on the socket of an idle connection: the server closed it, most likely."""
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    return bool(readable)


def insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's own INSERT, which offers `on_conflict_do_nothing` on both."""
    if is_sqlite(conn):
        return sqlite.insert(table)
    return postgresql.insert(table)


def serialize_appends(conn: Connection) -> None:
    """Make the order of `events.position` equal the order of commits.

    On PostgreSQL a transaction can take a lower position and commit after one that
    took a higher position, so a reader tailing `position` would skip its events for
    good. The EXCLUSIVE lock (readers still read) makes appends take turns, as the
    eventsourcing library does; `lock_timeout` turns a stuck writer into an error the
    caller retries. Gap detection instead of the lock has lost data elsewhere: don't.
    https://www.postgresql.org/docs/current/explicit-locking.html
    SQLite needs nothing: it has one writer at a time, and our first statement in a
    writing transaction is a write, so that writer waits for the lock (busy_timeout)
    instead of failing to upgrade a read snapshot.
    """
    if is_sqlite(conn):
        return
    # On the driver, so that inside `pipelined` both go out with the statements after them
    # (a failure is raised where the pipeline next waits: the append's INSERT).
    for statement in ("SET LOCAL lock_timeout = '10s'", "LOCK TABLE events IN EXCLUSIVE MODE"):
        with _as_sqlalchemy_error(conn):
            conn.connection.cursor().execute(statement)


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """PostgreSQL: statements go out without waiting for each one's result (psycopg's
    pipeline mode), until one's result is needed; leaving waits for all of them.

    The append's BEGIN, lock and INSERT go out together, and so do the case projection's
    step and workload writes (the case row's guarded UPDATE still waits for its count):
    about five round trips instead of eight (measured: +8% appends/s at ten events per
    append). Errors come out where the pipeline waits, as SQLAlchemy's exceptions, and
    roll the transaction back. SQLite: nothing to do (no round trips).
    https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html
    """
    if is_sqlite(conn):
        yield
        return
    with _as_sqlalchemy_error(conn), conn.connection.driver_connection.pipeline():  # type: ignore[union-attr]
        yield


@contextmanager
def _as_sqlalchemy_error(conn: Connection) -> Iterator[None]:
    base = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except base as error:
        raise DBAPIError.instance(None, None, error, base, dialect=conn.dialect) from error

"""Engines, and the one place where SQLite and PostgreSQL differ.

Everything else in `store/` is dialect-neutral SQLAlchemy Core. The differences:

- SQLite (embedded): WAL so readers never block the writer, `synchronous=FULL`
  because these records are worth an fsync per commit, a generous `busy_timeout`
  because there is one writer at a time, foreign keys on (SQLite leaves them off).
- PostgreSQL (production): psycopg 3, `pool_pre_ping` so a restarted server costs
  a reconnect rather than an error, and a table lock that orders appends (below).
- `INSERT … ON CONFLICT` comes from each dialect's own `insert()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

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
    engine = create_engine(url)
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
    return create_engine(url, pool_pre_ping=True)


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
    # One round trip: psycopg sends parameterless multi-statement strings as they are.
    conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'; LOCK TABLE events IN EXCLUSIVE MODE")

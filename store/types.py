"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A moment in UTC: refuses naive datetimes, always returns aware UTC ones.

    SQLite has no time zones (it stores the UTC wall time) and PostgreSQL returns
    `timestamptz` in the session's zone; both come back as UTC, so a value reads the
    same on either database and equals what the domain wrote.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else in_utc(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def in_utc(value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is refused (its zone is anybody's guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: times are stored in UTC")
    return value.astimezone(UTC)

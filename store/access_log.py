"""The access log (`access_log`): who read a person's data, and every failed sign-in.

Append-only: one row per case whose person was shown (`case_read`, `events_read`,
`referral_read`, `visa_read`), and one per failed sign-in (`login_failed`, the name tried
as `username`, no case). Rows hold usernames, ids, kinds and paths, never the data read.
A list request writes its rows in one statement, so a read costs one INSERT.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, and_, insert, or_, select

from store.schema import access_log

__all__ = ["Access", "AccessKind", "AccessLog", "AccessPage", "InvalidCursor"]

_PATH_LENGTH = 200  # the column's


class AccessKind(StrEnum):
    """What was read (or tried)."""

    CASE_READ = "case_read"
    EVENTS_READ = "events_read"
    REFERRAL_READ = "referral_read"
    VISA_READ = "visa_read"
    LOGIN_FAILED = "login_failed"
    PAYLOADS_DECODED = "payloads_decoded"  # Temporal payloads decrypted by the codec endpoint


class Access(BaseModel):
    """One entry of the log."""

    model_config = ConfigDict(frozen=True)

    entry_id: int
    at: datetime
    username: str
    kind: str
    case_id: UUID | None
    path: str | None


class AccessPage(BaseModel):
    """Entries newest first; pass `next_cursor` back for the next page (None: the last)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[Access, ...]
    next_cursor: str | None = None


class InvalidCursor(ValueError):
    """The cursor was not one this module made."""


class AccessLog:
    """The `access_log` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(
        self,
        username: str,
        kind: AccessKind | str,
        *,
        case_id: UUID | None = None,
        path: str | None = None,
        at: datetime,
    ) -> None:
        """Record one read (or one failed sign-in)."""
        self.record_many(username, kind, [case_id], path=path, at=at)

    def record_many(
        self,
        username: str,
        kind: AccessKind | str,
        case_ids: Iterable[UUID | None],
        *,
        path: str | None = None,
        at: datetime,
    ) -> None:
        """Record one read per case shown (each case once), in one statement."""
        rows = [
            {
                "at": at,
                "username": username[:64],
                "kind": str(kind),
                "case_id": case_id,
                "path": path[:_PATH_LENGTH] if path else None,
            }
            for case_id in dict.fromkeys(case_ids)
        ]
        if not rows:
            return
        with self._engine.begin() as conn:
            conn.execute(insert(access_log), rows)

    def for_case(self, case_id: UUID, limit: int = 50, cursor: str | None = None) -> AccessPage:
        """The case's entries, newest first."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(access_log).where(access_log.c.case_id == case_id)
        if cursor is not None:
            query = query.where(_after(*_decode(cursor)))
        query = query.order_by(access_log.c.at.desc(), access_log.c.entry_id.desc())
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit + 1)).mappings().all()
        found = [Access.model_validate(dict(row)) for row in rows]
        if len(found) <= limit:
            return AccessPage(items=tuple(found))
        items = found[:limit]
        return AccessPage(items=tuple(items), next_cursor=_encode(items[-1]))

    def failed_logins(self, since: datetime) -> builtins.list[Access]:
        """Failed sign-ins since `since`, newest first (for audits)."""
        query = (
            select(access_log)
            .where(access_log.c.kind == AccessKind.LOGIN_FAILED.value)
            .where(access_log.c.at >= since)
            .order_by(access_log.c.at.desc(), access_log.c.entry_id.desc())
        )
        with self._engine.connect() as conn:
            return [Access.model_validate(dict(row)) for row in conn.execute(query).mappings()]


def _after(at: datetime, entry_id: int) -> Any:
    """Rows after the cursor's in (at desc, entry_id desc) order."""
    return or_(access_log.c.at < at, and_(access_log.c.at == at, access_log.c.entry_id < entry_id))


def _encode(last: Access) -> str:
    payload = {"at": last.at.isoformat(), "entry_id": last.entry_id}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at = datetime.fromisoformat(payload["at"])
        entry_id = payload["entry_id"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("not a cursor from a previous page") from exc
    if at.tzinfo is None or not isinstance(entry_id, int) or isinstance(entry_id, bool):
        raise InvalidCursor("not a cursor from a previous page")
    return at, entry_id

"""The in-app inbox: one row per notification and recipient, read and marked by its owner.

Delivering is idempotent on (`notification_id`, `recipient`): the notify activity can run
any number of times and each person still finds the notification once. `email_sent_at`
records which emails went out, so a retry sends only the missing ones. Rows hold ids,
codes and dates, never a person's data.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func, select, update

from store.db import insert
from store.schema import notifications

__all__ = ["Inbox", "NotificationOut"]


class NotificationOut(BaseModel):
    """A notification as its recipient sees it."""

    model_config = ConfigDict(frozen=True)

    notification_id: UUID
    case_id: UUID | None
    kind: str
    params: dict[str, str]
    created_at: datetime
    read_at: datetime | None


class Inbox:
    """The `notifications` table."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def deliver(
        self,
        notification_id: UUID,
        recipients: Iterable[str],
        *,
        case_id: UUID | None,
        kind: str,
        params: Mapping[str, str],
        at: datetime,
    ) -> builtins.list[str]:
        """Put the notification in each recipient's inbox; the recipients newly given it.

        A recipient who already has it keeps their row as it was (read or not, emailed
        or not): delivering again is a no-op for them.
        """
        unique = builtins.list(dict.fromkeys(recipients))  # once each, in the order given
        rows = [
            {
                "notification_id": notification_id,
                "recipient": recipient,
                "case_id": case_id,
                "kind": kind,
                "params": dict(params),
                "created_at": at,
            }
            for recipient in unique
        ]
        if not rows:
            return []
        with self._engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports -1 for a multi-row insert.
            statement = (
                insert(conn, notifications)
                .values(rows)
                .on_conflict_do_nothing()
                .returning(notifications.c.recipient)
            )
            added = set(conn.scalars(statement))
        return [recipient for recipient in unique if recipient in added]

    def pending_email(self, notification_id: UUID) -> builtins.list[str]:
        """The recipients of the notification whose email has not been sent."""
        query = (
            select(notifications.c.recipient)
            .where(notifications.c.notification_id == notification_id)
            .where(notifications.c.email_sent_at.is_(None))
            .order_by(notifications.c.recipient)
        )
        with self._engine.connect() as conn:
            return builtins.list(conn.scalars(query))

    def mark_emailed(self, notification_id: UUID, recipient: str, at: datetime) -> None:
        """Record that the recipient's email went out (the first time recorded stays)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(notifications)
                .where(notifications.c.notification_id == notification_id)
                .where(notifications.c.recipient == recipient)
                .where(notifications.c.email_sent_at.is_(None))
                .values(email_sent_at=at)
            )

    def list(
        self, recipient: str, *, unread_only: bool = False, limit: int = 50
    ) -> builtins.list[NotificationOut]:
        """The recipient's notifications, newest first."""
        query = (
            select(notifications)
            .where(notifications.c.recipient == recipient)
            .order_by(notifications.c.created_at.desc(), notifications.c.notification_id.desc())
            .limit(limit)
        )
        if unread_only:
            query = query.where(notifications.c.read_at.is_(None))
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings()
            return [NotificationOut.model_validate(dict(row)) for row in rows]

    def mark_read(self, recipient: str, ids: Collection[UUID], at: datetime) -> int:
        """Mark the recipient's own notifications among `ids` read; how many were unread.

        Ids of other people's notifications, unknown ids and ones already read are
        ignored alike, so the answer reveals nothing about anyone else's inbox.
        """
        if not ids:
            return 0
        statement = (
            update(notifications)
            .where(notifications.c.recipient == recipient)
            .where(notifications.c.notification_id.in_(set(ids)))
            .where(notifications.c.read_at.is_(None))
            .values(read_at=at)
            .returning(notifications.c.notification_id)
        )
        with self._engine.begin() as conn:
            return len(conn.execute(statement).all())

    def count_unread(self, recipient: str) -> int:
        """How many of the recipient's notifications are unread."""
        query = (
            select(func.count())
            .select_from(notifications)
            .where(notifications.c.recipient == recipient)
            .where(notifications.c.read_at.is_(None))
        )
        with self._engine.connect() as conn:
            return int(conn.scalar(query) or 0)

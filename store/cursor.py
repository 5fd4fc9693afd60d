"""Opaque page cursors for lists ordered by a moment and an id: one format, one check."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from uuid import UUID


class InvalidCursor(ValueError):
    """The cursor was not given by a previous page of this list."""


def encode(at: datetime, id: UUID) -> str:
    """The cursor after the row (`at`, `id`)."""
    payload = {"at": at.isoformat(), "id": str(id)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode(cursor: str) -> tuple[datetime, UUID]:
    """The row a cursor points after; `InvalidCursor` for anything else (naive times too:
    the store refuses them)."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        at, id = datetime.fromisoformat(payload["at"]), UUID(payload["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("not a cursor from a previous page") from exc
    if at.tzinfo is None:
        raise InvalidCursor("not a cursor from a previous page")
    return at, id

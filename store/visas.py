"""The visa projection (`visas`) and its read side: dates and states, never a visa number.

Inline: `VisaProjector.apply` folds the visa events of an append into `visas` inside the
append's transaction, so a list read right after a command shows it. `rebuild` refolds
every stored visa event; both paths go through `_fold`, so they cannot disagree. The visa
number is personal data: `VisaReads.numbers` takes it from the case state, for the
people allowed to read it.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    Engine,
    Select,
    and_,
    or_,
    select,
)

from domain import Event
from domain import events as ev
from domain.visas import VisaStatus
from domain.vocabulary import VisaKind, VisaState
from store.case_state import stored_states
from store.row_projection import Row, RowProjection
from store.schema import cases, visas
from store.sealing import DataKeys

__all__ = ["InvalidCursor", "VisaPage", "VisaProjector", "VisaReads", "VisaSummary"]

_VISA_EVENTS = (ev.VisaRegistered, ev.VisaRenewed, ev.VisaReminderSent, ev.VisaExpired,
                ev.VisaCancelled)  # fmt: skip
VISA_EVENT_TYPES: frozenset[str] = frozenset(
    cls.model_fields["type"].default for cls in _VISA_EVENTS
)


# --- the projection ----------------------------------------------------------------------


def _registered(event: Event, data: ev.VisaRegistered) -> Row:
    return {
        "visa_id": data.visa_id,
        "case_id": event.case_id,
        "kind": data.kind.value,
        "state": VisaState.ACTIVE.value,
        "issued_on": data.issued_on,
        "expires_on": data.expires_on,
        "renewals": 0,
        "last_reminder_days": None,
        "expired_at": None,
        "registered_at": event.occurred_at,
        "updated_at": event.occurred_at,
    }


def _changes(row: Row, data: Any, event: Event) -> Row:
    """What a later visa event changes in its visa's row (as `domain.state` folds it)."""
    if isinstance(data, ev.VisaRenewed):  # a new cycle: active again, no reminder yet
        return {
            "state": VisaState.ACTIVE.value,
            "expires_on": data.expires_on,
            "renewals": row["renewals"] + 1,
            "last_reminder_days": None,
            "expired_at": None,
        }
    if isinstance(data, ev.VisaReminderSent):
        return {"last_reminder_days": data.days}
    if isinstance(data, ev.VisaExpired):
        return {"state": VisaState.EXPIRED.value, "expired_at": event.occurred_at}
    assert isinstance(data, ev.VisaCancelled)
    return {"state": VisaState.CANCELLED.value}


def _fold(rows: dict[UUID, Row], event: Event) -> None:
    """Fold one visa event into `rows` (keyed by visa id), in place."""
    data = event.data
    if isinstance(data, ev.VisaRegistered):
        rows[data.visa_id] = _registered(event, data)
        return
    visa_id = _visa_id(event)
    row = rows.get(visa_id)
    if row is None:
        # Only a table created after its visa's registration was stored lacks the row;
        # failing the append over a read model would stop the case: `rebuild` restores it.
        return
    rows[visa_id] = row | _changes(row, data, event) | {"updated_at": event.occurred_at}


def _visa_id(event: Event) -> UUID:
    return event.data.visa_id  # type: ignore[union-attr]


class VisaProjector(RowProjection):
    """Keeps `visas` equal to the fold of every visa event (the case stream's visa part)."""

    table = visas
    key = "visa_id"
    event_types = VISA_EVENT_TYPES

    def touched(self, event: Event) -> set[UUID]:
        return {_visa_id(event)}

    def creates(self, event: Event) -> set[UUID]:
        return {_visa_id(event)} if isinstance(event.data, ev.VisaRegistered) else set()

    def fold(self, rows: dict[UUID, Row], event: Event) -> None:
        _fold(rows, event)


# --- the read side -------------------------------------------------------------------------


class VisaSummary(BaseModel):
    """A visa as lists show it, with its case's caseworker and institution (no number)."""

    model_config = ConfigDict(frozen=True)

    visa_id: UUID
    case_id: UUID
    kind: VisaKind
    state: VisaState
    issued_on: date
    expires_on: date
    renewals: int
    last_reminder_days: int | None
    expired_at: datetime | None
    registered_at: datetime
    updated_at: datetime
    assigned_to: str | None
    institution: str | None


class VisaPage(BaseModel):
    """One page of visas, soonest expiry first; `next_cursor` None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: tuple[VisaSummary, ...]
    next_cursor: str | None = None


class InvalidCursor(ValueError):
    """The cursor was not one this module made."""


_COLUMNS = (*visas.c, cases.c.assigned_to, cases.c.institution)
_JOINED = visas.join(cases, cases.c.case_id == visas.c.case_id)


class VisaReads:
    """Queries behind the visa screens, over `visas` joined to `cases` for scope."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, visa_id: UUID) -> VisaSummary | None:
        """One visa, or None if no such visa was registered."""
        found = self._summaries(select(*_COLUMNS).select_from(_JOINED).where(
            visas.c.visa_id == visa_id))  # fmt: skip
        return found[0] if found else None

    def list(
        self,
        today: date,
        *,
        expiring_within_days: int | None = None,
        case_id: UUID | None = None,
        state: VisaState | None = None,
        assigned_to: str | None = None,
        institution: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> VisaPage:
        """Visas soonest expiry first, filtered.

        `expiring_within_days` keeps active visas whose expiry date is at most that many
        days after `today` (an active visa past its date is about to be recorded expired:
        it stays in); `assigned_to` and `institution` scope a caseworker's or a
        supervisor's view through the visa's case.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = _filtered(today, expiring_within_days, case_id, state, assigned_to, institution)
        if cursor is not None:
            query = query.where(_after(*_decode(cursor)))
        query = query.order_by(visas.c.expires_on, visas.c.visa_id).limit(limit + 1)
        found = self._summaries(query)
        if len(found) <= limit:
            return VisaPage(items=tuple(found))
        items = found[:limit]
        return VisaPage(items=tuple(items), next_cursor=_encode(items[-1]))

    def personal(
        self, visa_ids: Collection[tuple[UUID, UUID]], keys: DataKeys | None = None
    ) -> dict[UUID, VisaStatus]:
        """The visas of (case_id, visa_id) pairs as their cases' states hold them, with the
        number and the cancellation's reason (personal data: only for those allowed to
        read the case's person)."""
        states = stored_states(self._engine, {case_id for case_id, _ in visa_ids}, keys)
        return {
            visa_id: states[case_id].visas[visa_id]
            for case_id, visa_id in visa_ids
            if case_id in states and visa_id in states[case_id].visas
        }

    def _summaries(self, query: Select[Any]) -> builtins.list[VisaSummary]:
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [VisaSummary.model_validate(dict(row)) for row in rows]


def _filtered(
    today: date,
    within_days: int | None,
    case_id: UUID | None,
    state: VisaState | None,
    assigned_to: str | None,
    institution: str | None,
) -> Select[Any]:
    query = select(*_COLUMNS).select_from(_JOINED)
    equal: dict[Any, object] = {
        visas.c.case_id: case_id,
        visas.c.state: state.value if state else None,
        cases.c.assigned_to: assigned_to,
        cases.c.institution: institution,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(column == value)
    if within_days is not None:
        query = query.where(
            visas.c.state == VisaState.ACTIVE.value,
            visas.c.expires_on <= today + timedelta(days=within_days),
        )
    return query


def _after(expires_on: date, visa_id: UUID) -> Any:
    """Rows after the cursor's in (expires_on, visa_id) order."""
    return or_(
        visas.c.expires_on > expires_on,
        and_(visas.c.expires_on == expires_on, visas.c.visa_id > visa_id),
    )


def _encode(last: VisaSummary) -> str:
    payload = {"expires_on": last.expires_on.isoformat(), "visa_id": str(last.visa_id)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode(cursor: str) -> tuple[date, UUID]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return date.fromisoformat(payload["expires_on"]), UUID(payload["visa_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("not a cursor from a previous page") from exc

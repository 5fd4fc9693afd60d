"""The referral projection (`referrals`) and its read side: institutions' queues, case screens.

Inline: `ReferralProjector.apply` folds the referral events of an append into `referrals`
inside the append's transaction, so an institution's list shows a referral as soon as its
case workflow stored it. `rebuild` refolds every stored referral event; both go through
`_fold`, so they cannot disagree. Rows hold ids, codes and dates only; what an institution
may read of the person comes from the case state (`ReferralReads.case_state`).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    Connection,
    Delete,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    or_,
    select,
)

from domain import CaseState, Event
from domain import events as ev
from domain.vocabulary import Channel, ReferralDecision, ReferralState, Step
from store import cursor as cursors
from store.case_state import stored_states
from store.cursor import InvalidCursor
from store.driver import compiled_once
from store.row_projection import Row, RowProjection
from store.schema import case_steps, cases, delivery_failures, referrals
from store.sealing import DataKeys

__all__ = ["InvalidCursor", "ReferralPage", "ReferralProjector", "ReferralReads", "ReferralSummary"]

_REFERRAL_EVENTS = (
    ev.StepReferred,
    ev.ReferralDelivered,
    ev.ReferralAnswered,
    ev.ReferralRevoked,
    ev.ReferralRedirected,
)
REFERRAL_EVENT_TYPES: frozenset[str] = frozenset(
    cls.model_fields["type"].default for cls in _REFERRAL_EVENTS
)
_ANSWERED = {
    ReferralDecision.ACCEPTED: ReferralState.ACCEPTED,
    ReferralDecision.DECLINED: ReferralState.DECLINED,
    ReferralDecision.COMPLETED: ReferralState.COMPLETED,
}
_FINAL = frozenset(state.value for state in ReferralState if state.final)


# --- the projection ----------------------------------------------------------------------


def _new(referral_id: UUID, event: Event, step: Step, institution: str, overridden: bool) -> Row:
    return {
        "referral_id": referral_id,
        "case_id": event.case_id,
        "step": step.value,
        "institution": institution,
        "state": ReferralState.SENT.value,
        "channel": None,
        "overridden": overridden,
        "referred_at": event.occurred_at,
        "delivered_at": None,
        "answered_at": None,
        "decision": None,
        "reference": None,
        "redirected_to": None,
        "updated_at": event.occurred_at,
    }


def _changes(row: Row, data: Any, event: Event) -> Row:
    """What a later referral event changes in its row (as `domain.state` folds it)."""
    when = event.occurred_at
    if isinstance(data, ev.ReferralDelivered):
        moved = ReferralState.DELIVERED.value if row["state"] == ReferralState.SENT else None
        return {"state": moved or row["state"], "channel": data.channel.value, "delivered_at": when}
    if isinstance(data, ev.ReferralAnswered):
        return {
            "state": _ANSWERED[data.decision].value,
            "decision": data.decision.value,
            "answered_at": when,
            "reference": data.reference or row["reference"],
        }
    if isinstance(data, ev.ReferralRevoked):
        return {"state": ReferralState.REVOKED.value}
    assert isinstance(data, ev.ReferralRedirected)
    return {"state": ReferralState.REDIRECTED.value, "redirected_to": data.new_referral_id}


def _fold(rows: dict[UUID, Row], event: Event) -> None:
    """Fold one referral event into `rows` (keyed by referral id), in place."""
    data = event.data
    if isinstance(data, ev.StepReferred):
        overridden = data.consent_override is not None
        rows[data.referral_id] = _new(
            data.referral_id, event, data.step, data.institution, overridden
        )
        return
    referral_id: UUID = data.referral_id  # type: ignore[union-attr]
    row = rows.get(referral_id)
    if row is None:
        # Only a table created after the referral was stored lacks its row; failing the
        # append over a read model would stop the case: `rebuild` restores it.
        return
    rows[referral_id] = row | _changes(row, data, event) | {"updated_at": event.occurred_at}
    if isinstance(data, ev.ReferralRedirected):
        rows[data.new_referral_id] = _new(
            data.new_referral_id, event, data.step, data.institution, row["overridden"]
        )


def _forget_failures() -> Delete:
    column = delivery_failures.c.delivery_id
    return delete(delivery_failures).where(column == bindparam("delivery_id", type_=column.type))


def _touched(event: Event) -> set[UUID]:
    data: Any = event.data
    if isinstance(data, ev.ReferralRedirected):
        return {data.referral_id, data.new_referral_id}
    return {data.referral_id}


class ReferralProjector(RowProjection):
    """Keeps `referrals` equal to the fold of every referral event."""

    table = referrals
    key = "referral_id"
    event_types = REFERRAL_EVENT_TYPES

    def touched(self, event: Event) -> set[UUID]:
        return _touched(event)

    def creates(self, event: Event) -> set[UUID]:
        data = event.data
        if isinstance(data, ev.StepReferred):
            return {data.referral_id}
        return {data.new_referral_id} if isinstance(data, ev.ReferralRedirected) else set()

    def fold(self, rows: dict[UUID, Row], event: Event) -> None:
        _fold(rows, event)

    def applied(self, conn: Connection, rows: dict[UUID, Row]) -> None:
        """A referral no longer live has no delivery left to fail (its retries stop)."""
        ended = [{"delivery_id": key} for key, row in rows.items() if row["state"] in _FINAL]
        compiled_once(conn.dialect, _forget_failures, _forget_failures).run(conn, ended)


# --- the read side -------------------------------------------------------------------------


class ReferralSummary(BaseModel):
    """A referral as lists show it, with its step's due date and its case's scope."""

    model_config = ConfigDict(frozen=True)

    referral_id: UUID
    case_id: UUID
    step: Step
    institution: str
    state: ReferralState
    channel: Channel | None
    overridden: bool
    referred_at: datetime
    delivered_at: datetime | None
    answered_at: datetime | None
    decision: ReferralDecision | None
    reference: str | None
    redirected_to: UUID | None
    updated_at: datetime
    due_at: datetime | None
    overdue: bool
    assigned_to: str | None
    case_institution: str | None


class ReferralPage(BaseModel):
    """One page of referrals, oldest first; `next_cursor` None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: tuple[ReferralSummary, ...]
    next_cursor: str | None = None


_COLUMNS = (
    *referrals.c,
    case_steps.c.due_at,
    case_steps.c.overdue,
    cases.c.assigned_to,
    cases.c.institution.label("case_institution"),
)
_JOINED = referrals.join(cases, cases.c.case_id == referrals.c.case_id).outerjoin(
    case_steps,
    and_(case_steps.c.case_id == referrals.c.case_id, case_steps.c.step == referrals.c.step),
)


class ReferralReads:
    """Queries behind the referral screens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, referral_id: UUID) -> ReferralSummary | None:
        """One referral, or None if no such referral was made."""
        query = select(*_COLUMNS).select_from(_JOINED)
        found = self._summaries(query.where(referrals.c.referral_id == referral_id))
        return found[0] if found else None

    def list(
        self,
        *,
        institution: str | None = None,
        case_institution: str | None = None,
        assigned_to: str | None = None,
        case_id: UUID | None = None,
        state: ReferralState | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ReferralPage:
        """Referrals oldest first: those sent to `institution` (an institution's own), or
        those of the cases of `case_institution` (a supervisor's) or assigned to
        `assigned_to` (a caseworker's), filtered."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(*_COLUMNS).select_from(_JOINED)
        equal: dict[Any, object] = {
            referrals.c.institution: institution,
            cases.c.institution: case_institution,
            cases.c.assigned_to: assigned_to,
            referrals.c.case_id: case_id,
            referrals.c.state: state.value if state else None,
        }
        for column, value in equal.items():
            if value is not None:
                query = query.where(column == value)
        if cursor is not None:
            query = query.where(_after(*cursors.decode(cursor)))
        query = query.order_by(referrals.c.referred_at, referrals.c.referral_id).limit(limit + 1)
        found = self._summaries(query)
        if len(found) <= limit:
            return ReferralPage(items=tuple(found))
        items = found[:limit]
        return ReferralPage(
            items=tuple(items),
            next_cursor=cursors.encode(items[-1].referred_at, items[-1].referral_id),
        )

    def case_states(
        self, case_ids: Iterable[UUID], keys: DataKeys | None = None
    ) -> dict[UUID, CaseState]:
        """The states of these cases: personal data, only for those allowed to read it."""
        return stored_states(self._engine, case_ids, keys)

    def _summaries(self, query: Select[Any]) -> builtins.list[ReferralSummary]:
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            ReferralSummary.model_validate({**row, "overdue": bool(row["overdue"])}) for row in rows
        ]


def _after(referred_at: datetime, referral_id: UUID) -> Any:
    """Rows after the cursor's in (referred_at, referral_id) order."""
    return or_(
        referrals.c.referred_at > referred_at,
        and_(referrals.c.referred_at == referred_at, referrals.c.referral_id > referral_id),
    )

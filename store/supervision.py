"""The supervisor's read models: the stuck-case board, the workload, closures awaiting a decision.

Each answers from the indexed `cases`/`case_steps` projection (the workload: from its own,
`store.workload`) with one query, so a board over 100,000 cases stays interactive. The rules
are those of `domain.supervision`: a test checks this SQL against them case by case.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import (
    Engine,
    Select,
    and_,
    bindparam,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from domain.supervision import StuckReason
from domain.vocabulary import FINAL_STATES, CaseStatus, Step, VisaState
from store.schema import (
    case_steps,
    cases,
    caseworker_deadlines,
    caseworker_load,
    delivery_failures,
    visas,
)

_OPEN_STATUSES = (CaseStatus.OPEN.value, CaseStatus.CLOSURE_REQUESTED.value)
_OPEN_CASE = cases.c.status.in_(_OPEN_STATUSES)
_OPEN_STEP = case_steps.c.state.not_in([s.value for s in FINAL_STATES])


class StuckItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: UUID
    step: Step | None  # None: the reason is about the case (a failing delivery)
    reason: StuckReason

    @field_validator("step", mode="before")
    @classmethod
    def _no_step(cls, value: object) -> object:
        return None if value == "" else value

    since: datetime
    due_at: datetime | None
    assigned_to: str | None
    acknowledged: bool
    escalated: bool


class StuckPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: tuple[StuckItem, ...]
    next_cursor: str | None = None


class Workload(BaseModel):
    model_config = ConfigDict(frozen=True)

    caseworker: str
    open_cases: int
    open_steps: int
    overdue_steps: int
    oldest_overdue: datetime | None


class SupervisionReads:
    """Queries behind the supervisor's screens, scoped to one institution."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def stuck(
        self,
        institution: str,
        now: datetime,
        *,
        reason: StuckReason | None = None,
        step: Step | None = None,
        caseworker: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> StuckPage:
        """Stuck steps of the institution's open cases, most overdue (oldest `since`) first.

        Each reason's rows are ordered and cut to one page on their own (an index walk on
        `due_at` / `stale_at`), then merged: a page costs about the same with 10 or 10,000
        stuck.
        """
        last = _decode(cursor) if cursor is not None else None
        query = _board_query(reason, step is not None, caseworker is not None, last is not None)
        params = {"institution": institution, "now": now, "size": limit + 1}
        params |= {"step": step.value} if step is not None else {}
        params |= {"caseworker": caseworker} if caseworker is not None else {}
        params |= dict(zip(_LAST, last, strict=True)) if last is not None else {}
        with self._engine.connect() as conn:
            found = conn.execute(query, params).mappings().all()
        items = tuple(StuckItem.model_validate(dict(r)) for r in found[:limit])
        more = len(found) > limit
        return StuckPage(items=items, next_cursor=_encode(items[-1]) if more else None)

    def workload(self, institution: str, now: datetime) -> list[Workload]:
        """Per caseworker: open cases, open steps, overdue steps, the oldest overdue due date.

        From the workload projection (`store.workload`): its counts, and the open steps'
        due dates up to `now`, one index range.
        """
        load, due = caseworker_load, caseworker_deadlines
        late = (
            select(
                due.c.caseworker,
                func.count().label("overdue_steps"),
                func.min(due.c.due_at).label("oldest_overdue"),
            )
            .where(due.c.institution == institution, due.c.due_at <= now)
            .group_by(due.c.caseworker)
            .subquery("late")
        )
        query = (
            select(
                load.c.caseworker,
                load.c.open_cases,
                load.c.open_steps,
                func.coalesce(late.c.overdue_steps, 0).label("overdue_steps"),
                late.c.oldest_overdue,
            )
            .select_from(load.outerjoin(late, late.c.caseworker == load.c.caseworker))
            .where(load.c.institution == institution)
            .order_by(load.c.caseworker)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Workload.model_validate(dict(r)) for r in rows]

    def closures(self, institution: str) -> list[dict[str, Any]]:
        """Closure requests awaiting a decision, oldest first."""
        query = select(cases.c.case_id, cases.c.assigned_to, cases.c.state).where(
            cases.c.institution == institution,
            cases.c.status == CaseStatus.CLOSURE_REQUESTED.value,
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        found = [
            {
                "case_id": r["case_id"],
                "assigned_to": r["assigned_to"],
                "reason": r["state"]["closure"]["reason"],
                "requested_at": datetime.fromisoformat(r["state"]["closure"]["requested_at"]),
                "requested_by": r["state"]["closure"]["requested_by"],
            }
            for r in rows
            if r["state"].get("closure")
        ]
        return sorted(found, key=lambda c: (c["requested_at"], str(c["case_id"])))


_FAILING = StuckReason.DELIVERY_FAILING
_SINCE = {StuckReason.OVERDUE: case_steps.c.due_at, StuckReason.STALE: case_steps.c.stale_at}


_LAST = ("last_since", "last_case_id", "last_step", "last_reason")


@dataclass(frozen=True)
class _Board:
    """The board's parameters, bound when it runs (None: that filter is not asked for):
    whose, when, which step and caseworker, after which row, how many."""

    institution: Any
    now: Any
    step: Any
    caseworker: Any
    last: tuple[Any, ...] | None
    size: Any


@lru_cache(maxsize=64)
def _board_query(reason: StuckReason | None, step: bool, caseworker: bool, cursor: bool) -> Any:
    """The board's statement for one combination of filters, built once: building it costs
    more than running it."""
    board = _Board(
        bindparam("institution"), bindparam("now"),
        bindparam("step") if step else None, bindparam("caseworker") if caseworker else None,
        tuple(bindparam(name) for name in _LAST) if cursor else None, bindparam("size"),
    )  # fmt: skip
    chosen = [reason] if reason else list(StuckReason)
    merged = union_all(*(_reason_page(board, r) for r in chosen)).subquery()
    order = (merged.c.since, merged.c.case_id, merged.c.step, merged.c.reason)
    return select(merged).order_by(*order).limit(board.size)


def _step_page(board: _Board, reason: StuckReason) -> Any:
    """One page of the rows stuck for `reason` (overdue or stale), with their columns."""
    since = _SINCE[reason]
    key = (since, case_steps.c.case_id, case_steps.c.step)
    where = [_OPEN_STEP, since <= board.now]
    if board.step is not None:
        where.append(case_steps.c.step == board.step)
    if board.last is not None:  # the first term lets the walk start at the cursor
        where += [since >= board.last[0], _after((*key, literal(reason.value)), board.last)]
    rows = _stuck_steps(board, reason, select(*key).where(*where))
    page = rows.order_by(*key).limit(board.size).subquery()
    return select(
        page.c.case_id, page.c.step, case_steps.c.due_at, cases.c.assigned_to,
        case_steps.c.acknowledged, case_steps.c.escalated,
        literal(reason.value).label("reason"), page.c[since.name].label("since"),
    ).select_from(
        page.join(case_steps, and_(case_steps.c.case_id == page.c.case_id,
                                   case_steps.c.step == page.c.step))
        .join(cases, cases.c.case_id == page.c.case_id)
    )  # fmt: skip


def _stuck_steps(board: _Board, reason: StuckReason, rows: Select[Any]) -> Select[Any]:
    """`rows` narrowed to the board's cases by the cheapest path its filters allow."""
    scope = [cases.c.institution == board.institution, _OPEN_CASE]
    if board.caseworker is not None:
        scope.append(cases.c.assigned_to == board.caseworker)
    if reason is StuckReason.OVERDUE and board.step is None and board.last is None:
        # The first page lies in the steps of the `size` cases most overdue: each has a row
        # due at its next_due_at, and no row of a case after them is due earlier.
        worst = (
            select(cases.c.case_id)
            .where(*scope, cases.c.next_due_at <= board.now)
            .order_by(cases.c.next_due_at, cases.c.case_id)
            .limit(board.size)
        )
        return rows.where(case_steps.c.case_id.in_(worst))
    if board.caseworker is not None:  # a caseworker's few hundred cases, then their steps
        return rows.join(cases, cases.c.case_id == case_steps.c.case_id).where(*scope)
    # Walk `since` up from the floor, checking each row's case.
    since = _SINCE[reason]
    in_scope = exists().where(cases.c.case_id == case_steps.c.case_id, *scope)
    return rows.where(since >= _floor(board, reason), in_scope)


def _floor(board: _Board, reason: StuckReason) -> Any:
    """A time no row stuck for `reason` is before: the walk starts there, past the unfinished
    steps of cases closed long ago (still in `case_steps`, and first in `since` order)."""
    if reason is StuckReason.OVERDUE:
        # An open case's next_due_at is its open steps' earliest due date (the projection
        # writes both from one state); closed cases have none.
        return (
            select(func.min(cases.c.next_due_at))
            .where(cases.c.institution == board.institution)
            .scalar_subquery()
        )
    # No event precedes its case's opening (domain `_check_time`), so no step of an open
    # case turns stale before the oldest open case opened. One index seek per status.
    firsts = union_all(
        *(select(func.min(cases.c.opened_at).label("at")).where(cases.c.status == s)
          for s in _OPEN_STATUSES)
    ).subquery()  # fmt: skip
    return select(func.min(firsts.c.at)).scalar_subquery()


def _failing_page(board: _Board) -> Any:
    """One page of the cases with a delivery that keeps failing (no step: never with one)."""
    failing = delivery_failures
    key = (failing.c.since, failing.c.case_id)
    scope = [cases.c.institution == board.institution, _OPEN_CASE]
    rows = select(*key)
    if board.caseworker is not None:  # from the caseworker's cases
        rows = rows.join(cases, cases.c.case_id == failing.c.case_id)
        scope.append(cases.c.assigned_to == board.caseworker)
    else:  # walk them in `since` order, checking each one's case
        scope = [exists().where(cases.c.case_id == failing.c.case_id, *scope)]
    rows = rows.where(*scope)
    if board.step is not None:
        rows = rows.where(false())
    if board.last is not None:
        rows = rows.where(_after((*key, literal(""), literal(_FAILING.value)), board.last))
    page = rows.order_by(*key).limit(board.size).subquery()
    return select(
        page.c.case_id,
        literal("").label("step"),  # no step: "" keeps the keyset order total
        cast(null(), case_steps.c.due_at.type).label("due_at"),
        cases.c.assigned_to,
        false().label("acknowledged"),
        false().label("escalated"),
        literal(_FAILING.value).label("reason"),
        page.c.since,
    ).select_from(page.join(cases, cases.c.case_id == page.c.case_id))


def _reason_page(board: _Board, reason: StuckReason) -> Any:
    if reason is _FAILING:
        return _failing_page(board)
    if reason is StuckReason.VISA_EXPIRED:
        return _visa_expired_page(board)
    return _step_page(board, reason)


def _visa_expired_page(board: _Board) -> Any:
    """One page of the cases holding a visa that lapsed unrenewed (no step, like a failing
    delivery), since its expiry; closed cases too: a closed case still follows its visas."""
    expired = (
        select(visas.c.case_id, func.min(visas.c.expired_at).label("since"))
        .where(visas.c.state == VisaState.EXPIRED.value, visas.c.expired_at <= board.now)
        .group_by(visas.c.case_id)  # one row per case, however many visas lapsed
        .subquery("expired")
    )
    reason = StuckReason.VISA_EXPIRED.value
    key = (expired.c.since, expired.c.case_id, literal(""), literal(reason))
    where = [cases.c.institution == board.institution]
    if board.caseworker is not None:
        where.append(cases.c.assigned_to == board.caseworker)
    if board.step is not None:
        where.append(false())
    if board.last is not None:
        where.append(_after(key, board.last))
    rows = (
        select(
            expired.c.case_id,
            literal("").label("step"),
            cast(null(), case_steps.c.due_at.type).label("due_at"),
            cases.c.assigned_to,
            false().label("acknowledged"),
            false().label("escalated"),
            literal(reason).label("reason"),
            expired.c.since,
        )
        .select_from(expired.join(cases, cases.c.case_id == expired.c.case_id))
        .where(*where)
        .order_by(expired.c.since, expired.c.case_id)
        .limit(board.size)
    )
    return select(rows.subquery())


def _after(key: tuple[Any, ...], last: tuple[Any, ...]) -> Any:
    """Rows strictly after `last` in the lexicographic order of `key`."""
    clauses = []
    for i in range(len(key)):
        equal = [key[j] == last[j] for j in range(i)]
        clauses.append(and_(*equal, key[i] > last[i]))
    return or_(*clauses)


def _encode(item: StuckItem) -> str:
    step = item.step.value if item.step else ""
    payload = [item.since.isoformat(), str(item.case_id), step, item.reason.value]
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode(cursor: str) -> tuple[datetime, UUID, str, str]:
    try:
        since, case_id, step, reason = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(since), UUID(case_id), str(step), str(reason)
    except (ValueError, TypeError) as error:
        raise ValueError("not a cursor from this API") from error

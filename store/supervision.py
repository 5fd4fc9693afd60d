"""The supervisor's read models: the stuck-case board, the workload, closures awaiting a decision.

Each answers from the indexed `cases`/`case_steps` projection with one query, so a board over
100,000 cases stays interactive. The rules are those of `domain.supervision`: a test checks
this SQL against them case by case.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import Engine, and_, cast, false, func, literal, null, or_, select, union_all

from domain.supervision import StuckReason
from domain.vocabulary import FINAL_STATES, CaseStatus, Step
from store.schema import case_steps, cases, delivery_failures

_OPEN_CASE = cases.c.status.in_([CaseStatus.OPEN.value, CaseStatus.CLOSURE_REQUESTED.value])
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
        `due_at` / `stale_at`), then merged: a page costs the same with 10 or 10,000 stuck.
        """
        last = _decode(cursor) if cursor is not None else None
        pages = [
            self._page(branch, step, caseworker, last, limit + 1)
            for branch in self._stuck_rows(institution, now, reason)
        ]
        merged = union_all(*pages).subquery()
        order = (merged.c.since, merged.c.case_id, merged.c.step, merged.c.reason)
        with self._engine.connect() as conn:
            found = conn.execute(select(merged).order_by(*order).limit(limit + 1)).mappings().all()
        items = tuple(StuckItem.model_validate(dict(r)) for r in found[:limit])
        more = len(found) > limit
        return StuckPage(items=items, next_cursor=_encode(items[-1]) if more else None)

    @staticmethod
    def _page(branch: Any, step: Step | None, caseworker: str | None, last: Any, size: int) -> Any:
        rows = branch.subquery()
        query = select(rows)
        if step is not None:
            query = query.where(rows.c.step == step.value)
        if caseworker is not None:
            query = query.where(rows.c.assigned_to == caseworker)
        key = (rows.c.since, rows.c.case_id, rows.c.step, rows.c.reason)
        if last is not None:
            query = query.where(_after(key, last))
        return select(query.order_by(*key).limit(size).subquery())

    def _stuck_rows(self, institution: str, now: datetime, reason: StuckReason | None) -> list[Any]:
        columns = [
            case_steps.c.case_id, case_steps.c.step, case_steps.c.due_at,
            cases.c.assigned_to, case_steps.c.acknowledged, case_steps.c.escalated,
        ]  # fmt: skip
        joined = case_steps.join(cases, cases.c.case_id == case_steps.c.case_id)
        scope = and_(cases.c.institution == institution, _OPEN_CASE, _OPEN_STEP)
        overdue = (
            select(
                *columns,
                literal(StuckReason.OVERDUE.value).label("reason"),
                case_steps.c.due_at.label("since"),
            )
            .select_from(joined)
            .where(scope, case_steps.c.due_at <= now)
        )
        stale = (
            select(
                *columns,
                literal(StuckReason.STALE.value).label("reason"),
                case_steps.c.stale_at.label("since"),
            )
            .select_from(joined)
            .where(scope, case_steps.c.stale_at <= now)
        )
        failing = (
            select(
                delivery_failures.c.case_id,
                literal("").label("step"),  # no step: "" keeps the keyset order total
                cast(null(), case_steps.c.due_at.type).label("due_at"),
                cases.c.assigned_to,
                false().label("acknowledged"),
                false().label("escalated"),
                literal(StuckReason.DELIVERY_FAILING.value).label("reason"),
                delivery_failures.c.since.label("since"),
            )
            .select_from(
                delivery_failures.join(cases, cases.c.case_id == delivery_failures.c.case_id)
            )
            .where(cases.c.institution == institution, _OPEN_CASE)
        )
        chosen = {
            StuckReason.OVERDUE: [overdue],
            StuckReason.STALE: [stale],
            StuckReason.DELIVERY_FAILING: [failing],
        }
        return chosen[reason] if reason else [overdue, stale, failing]

    def workload(self, institution: str, now: datetime) -> list[Workload]:
        """Per caseworker: open cases, open steps, overdue steps, the oldest overdue due date."""
        overdue = and_(_OPEN_STEP, case_steps.c.due_at <= now)
        query = (
            select(
                cases.c.assigned_to.label("caseworker"),
                func.count(cases.c.case_id.distinct()).label("open_cases"),
                func.count(case_steps.c.step).filter(_OPEN_STEP).label("open_steps"),
                func.count(case_steps.c.step).filter(overdue).label("overdue_steps"),
                func.min(case_steps.c.due_at).filter(overdue).label("oldest_overdue"),
            )
            .select_from(cases.outerjoin(case_steps, cases.c.case_id == case_steps.c.case_id))
            .where(cases.c.institution == institution, _OPEN_CASE)
            .group_by(cases.c.assigned_to)
            .order_by(cases.c.assigned_to)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Workload.model_validate(dict(r)) for r in rows if r["caseworker"]]

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

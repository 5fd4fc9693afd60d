"""The read side for screens: case summaries from the projection tables, never a fold.

`CaseReads.list` pages with a keyset (newest opened first), so a page costs the same
however deep it is and cases opened meanwhile neither repeat nor vanish.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, Select, Text, and_, bindparam, cast, exists, or_, select
from sqlalchemy.engine import RowMapping

from domain import Event
from domain.person import Person
from domain.vocabulary import (
    FINAL_STATES,
    PATH_ORDER,
    CaseStatus,
    CrimeType,
    IdentificationOutcome,
    Step,
    StepState,
)
from store.case_state import opened_state, stored_state
from store.event_store import EventStore
from store.person_index import PersonIndex, matching_cases, same_person
from store.schema import case_steps, cases
from store.sealing import DataKeys

__all__ = ["CaseReads", "CaseSummary", "InvalidCursor", "Page", "StepSummary"]


class StepSummary(BaseModel):
    """Where one step of a case stands."""

    model_config = ConfigDict(frozen=True)

    step: Step
    state: StepState
    opened_at: datetime
    due_at: datetime
    updated_at: datetime
    overdue: bool
    escalated: bool
    acknowledged: bool
    institution: str | None
    referral_id: UUID | None = None


class CaseSummary(BaseModel):
    """A case as lists and the supervisor board show it (no personal data)."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    version: int
    status: CaseStatus
    crime_type: CrimeType
    assigned_to: str | None
    institution: str | None
    opened_at: datetime
    closed_at: datetime | None
    closed_reason: str | None
    last_event_at: datetime
    overdue: bool
    open_steps: int
    next_due_at: datetime | None
    identification_outcome: IdentificationOutcome | None
    steps: tuple[StepSummary, ...] = ()


class Page(BaseModel):
    """One page of cases; pass `next_cursor` back for the next one (None: the last page)."""

    model_config = ConfigDict(frozen=True)

    items: tuple[CaseSummary, ...]
    next_cursor: str | None = None


class InvalidCursor(ValueError):
    """The cursor was not one this module made."""


_SUMMARY_COLUMNS = [c for c in cases.c if c.name != "state"]
_STEP_ORDER = {step.value: index for index, step in enumerate(PATH_ORDER)}
_FINAL = [state.value for state in FINAL_STATES]


class CaseReads:
    """Queries behind the case screens, over the `cases` and `case_steps` tables."""

    def __init__(
        self, engine: Engine, store: EventStore | None = None, index: PersonIndex | None = None
    ) -> None:
        self._engine = engine
        self._store = store or EventStore(engine)
        self._index = index

    def search(self, text: str) -> set[UUID]:
        """Cases whose person's name holds every word of `text` (accents and case ignored)."""
        with self._engine.connect() as conn:
            return matching_cases(conn, self._need_index(), text)

    def same_person(self, person: Person) -> set[UUID]:
        """Cases of someone with the same name, birth date and nationality."""
        with self._engine.connect() as conn:
            return same_person(conn, self._need_index(), person)

    def _need_index(self) -> PersonIndex:
        if self._index is None:
            raise RuntimeError("CaseReads was built without the person index")
        return self._index

    @property
    def engine(self) -> Engine:
        return self._engine

    def get(self, case_id: UUID) -> CaseSummary | None:
        """One case with its steps, or None if no such case was opened."""
        with self._engine.connect() as conn:
            row = conn.execute(_ONE_CASE, {"case_id": case_id}).mappings().first()
            return None if row is None else _summary(conn, row)

    def owner(self, case_id: UUID) -> tuple[str | None, str | None] | None:
        """Whom the case is assigned to and its institution (what decides who sees it), or
        None if no such case was opened: one indexed row, for the check before a command."""
        with self._engine.connect() as conn:
            found = conn.execute(_OWNER, {"case_id": case_id}).first()
        return None if found is None else (found.assigned_to, found.institution)

    def with_person(self, case_id: UUID) -> tuple[CaseSummary, Person | None] | None:
        """`get` and `person` on one connection (what a command answers with), or None."""
        with self._engine.connect() as conn:
            row = conn.execute(_ONE_CASE_STATE, {"case_id": case_id}).mappings().first()
            if row is None:
                return None
            state = opened_state(conn, case_id, row["state"], self._store.keys)
            return _summary(conn, row), state.person

    @property
    def keys(self) -> DataKeys | None:
        """The data keys that open the personal fields of cases (None: stored plain)."""
        return self._store.keys

    def person(self, case_id: UUID) -> Person | None:
        """The person a case protects (personal data: only for those allowed to see it)."""
        state = stored_state(self._engine, case_id, self._store.keys)
        return None if state is None else state.person

    def events(self, case_id: UUID) -> builtins.list[Event]:
        """The case's history, for its timeline."""
        return self._store.read_stream(case_id)

    def list(
        self,
        *,
        status: CaseStatus | None = None,
        step: Step | None = None,
        overdue: bool | None = None,
        assigned_to: str | None = None,
        crime_type: CrimeType | None = None,
        institution: str | None = None,
        case_ids: Collection[UUID] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Cases newest first, filtered; `step` keeps cases where that step is open.

        `institution` scopes a supervisor's view; `case_ids` narrows to the matches of a
        name search (an empty collection matches nothing).
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = _filtered(status, step, overdue, assigned_to, crime_type, institution)
        if case_ids is not None:
            query = query.where(cases.c.case_id.in_(builtins.list(case_ids)))
        if cursor is not None:
            query = query.where(_after(*_decode(cursor)))
        query = query.order_by(cases.c.opened_at.desc(), cases.c.case_id).limit(limit + 1)
        found = self._summaries(query)
        if len(found) <= limit:
            return Page(items=tuple(found))
        items = found[:limit]
        return Page(items=tuple(items), next_cursor=_encode(items[-1]))

    def _summaries(self, query: Select[Any]) -> builtins.list[CaseSummary]:
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            if not rows:
                return []
            steps = _steps_of(conn.execute(_steps_query(r["case_id"] for r in rows)).mappings())
        return [
            CaseSummary.model_validate({**row, "steps": tuple(steps[row["case_id"]])})
            for row in rows
        ]


def _filtered(
    status: CaseStatus | None,
    step: Step | None,
    overdue: bool | None,
    assigned_to: str | None,
    crime_type: CrimeType | None,
    institution: str | None,
) -> Select[Any]:
    query = select(*_SUMMARY_COLUMNS)
    equal: dict[str, object] = {
        "status": status,
        "overdue": overdue,
        "assigned_to": assigned_to,
        "crime_type": crime_type,
        "institution": institution,
    }
    for name, value in equal.items():
        if value is not None:
            query = query.where(cases.c[name] == value)
    if step is not None:
        query = query.where(_has_open(step))
    return query


def _has_open(step: Step) -> Any:
    return exists().where(
        case_steps.c.case_id == cases.c.case_id,
        case_steps.c.step == step.value,
        case_steps.c.state.not_in(_FINAL),
    )


# One case by its id: built once, so SQLAlchemy finds the compiled form by a cache key it
# memoised, instead of building the query and its key on every command's reads.
_ONE_CASE = select(*_SUMMARY_COLUMNS).where(cases.c.case_id == bindparam("case_id"))
_ONE_CASE_STATE = _ONE_CASE.add_columns(cast(cases.c.state, Text).label("state"))
_OWNER = select(cases.c.assigned_to, cases.c.institution).where(
    cases.c.case_id == bindparam("case_id")
)
_ITS_STEPS = select(case_steps).where(case_steps.c.case_id == bindparam("case_id"))


def _summary(conn: Connection, row: RowMapping) -> CaseSummary:
    found = conn.execute(_ITS_STEPS, {"case_id": row["case_id"]}).mappings()
    steps = _steps_of(found)[row["case_id"]]
    columns = {c.name: row[c.name] for c in _SUMMARY_COLUMNS}
    return CaseSummary.model_validate({**columns, "steps": tuple(steps)})


def _steps_query(case_ids: Iterable[UUID]) -> Select[Any]:
    return select(case_steps).where(case_steps.c.case_id.in_(builtins.list(case_ids)))


def _steps_of(rows: Iterable[RowMapping]) -> dict[UUID, builtins.list[StepSummary]]:
    found: dict[UUID, builtins.list[StepSummary]] = defaultdict(builtins.list)
    for row in sorted(rows, key=lambda r: _STEP_ORDER[r["step"]]):
        found[row["case_id"]].append(StepSummary.model_validate(dict(row)))
    return found


def _after(opened_at: datetime, case_id: UUID) -> Any:
    """Rows after the cursor's in (opened_at desc, case_id asc) order."""
    return or_(
        cases.c.opened_at < opened_at,
        and_(cases.c.opened_at == opened_at, cases.c.case_id > case_id),
    )


def _encode(last: CaseSummary) -> str:
    payload = {"opened_at": last.opened_at.isoformat(), "case_id": str(last.case_id)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        opened_at = datetime.fromisoformat(payload["opened_at"])
        case_id = UUID(payload["case_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("not a cursor from a previous page") from exc
    if opened_at.tzinfo is None:
        raise InvalidCursor("not a cursor from a previous page")
    return opened_at, case_id

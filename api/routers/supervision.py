"""The supervisor's screens: stuck cases with their reason, workload, closures to decide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep, Supervisor
from api.problems import Problem, ProblemError
from domain.supervision import StuckReason
from domain.vocabulary import ClosureReason, Step
from store.supervision import StuckItem, StuckPage, SupervisionReads, Workload

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 422)
}
router = APIRouter(prefix="/supervision", tags=["supervision"], responses=ERRORS)


class StuckList(BaseModel):
    items: list[StuckItem]
    next_cursor: str | None


class ClosureRequestOut(BaseModel):
    case_id: UUID
    assigned_to: str | None
    reason: ClosureReason
    requested_at: datetime
    requested_by: str


def _reads(services: ServicesDep) -> SupervisionReads:
    return SupervisionReads(services.reads.engine)


@router.get("/stuck", response_model=StuckList)
async def stuck(
    user: Supervisor,
    services: ServicesDep,
    reason: StuckReason | None = None,
    step: Step | None = None,
    caseworker: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> StuckList:
    """Stuck steps of the institution's cases, most overdue first, with reason and since when."""
    assert user.institution is not None
    try:
        page: StuckPage = await run_in_threadpool(
            lambda: _reads(services).stuck(
                user.institution or "",
                datetime.now(UTC),
                reason=reason,
                step=step,
                caseworker=caseworker,
                limit=limit,
                cursor=cursor,
            )
        )
    except ValueError:
        raise ProblemError(422, "invalid_input", "cursor: not a cursor from this API") from None
    return StuckList(items=list(page.items), next_cursor=page.next_cursor)


@router.get("/workload", response_model=list[Workload])
async def workload(user: Supervisor, services: ServicesDep) -> list[Workload]:
    """Per caseworker: open cases, open steps, overdue steps and the oldest overdue."""
    return await run_in_threadpool(
        _reads(services).workload, user.institution or "", datetime.now(UTC)
    )


@router.get("/closures", response_model=list[ClosureRequestOut])
async def closures(user: Supervisor, services: ServicesDep) -> list[ClosureRequestOut]:
    """Closure requests awaiting a decision, oldest first."""
    found = await run_in_threadpool(_reads(services).closures, user.institution or "")
    return [ClosureRequestOut.model_validate(c) for c in found]

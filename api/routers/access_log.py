"""A case's access log: who read its person's data, and when (its institution's supervisors)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.access import visible_case
from api.deps import ServicesDep, Supervisor
from api.problems import PROBLEM_RESPONSES, ProblemError
from store.access_log import InvalidCursor

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEM_RESPONSES)


class AccessEntryPublic(BaseModel):
    """One read of the case's personal data: who, when, what (`kind`) and where (`path`)."""

    at: datetime
    username: str
    kind: str
    path: str | None


class AccessLogPage(BaseModel):
    items: list[AccessEntryPublic]
    next_cursor: str | None


@router.get("/{case_id}/access-log", response_model=AccessLogPage)
async def case_access_log(
    case_id: uuid.UUID,
    user: Supervisor,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AccessLogPage:
    """Who read the case (`case_read`), its events (`events_read`), a visa number
    (`visa_read`) or, for an institution, a referral's person (`referral_read`); newest
    first, `next_cursor` for the next page."""
    await visible_case(services, user, case_id)
    try:
        page = await run_in_threadpool(services.access_log.for_case, case_id, limit, cursor)
    except InvalidCursor:
        raise ProblemError(422, "invalid_input", "cursor: not a cursor from this API") from None
    items = [
        AccessEntryPublic(at=e.at, username=e.username, kind=e.kind, path=e.path)
        for e in page.items
    ]
    return AccessLogPage(items=items, next_cursor=page.next_cursor)

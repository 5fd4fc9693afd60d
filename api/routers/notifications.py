"""The caller's own notifications: list them, mark them read. Nobody sees anyone else's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from amparo.notification_texts import render
from amparo.users import User
from api.deps import CurrentUser, ServicesDep
from api.problems import Problem
from store.notifications import NotificationOut

MAX_IDS = 200
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 413, 422)
}
router = APIRouter(prefix="/notifications", tags=["notifications"], responses=ERRORS)


class NotificationPublic(BaseModel):
    """A notification, with its subject in the reader's language (no personal data)."""

    notification_id: UUID
    case_id: UUID | None
    kind: str
    params: dict[str, str]
    text: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    unread: int = Field(description="all the caller's unread notifications, not only these")


class MarkReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[UUID] = Field(max_length=MAX_IDS)


class MarkedOut(BaseModel):
    marked: int = Field(description="how many of the ids were the caller's and unread")


def _public(user: User, item: NotificationOut) -> NotificationPublic:
    text = render(item.kind, user.language, case_id=item.case_id, params=item.params)
    return NotificationPublic(**item.model_dump(), text=text.subject)


@router.get("", response_model=NotificationPage)
async def list_notifications(
    user: CurrentUser,
    services: ServicesDep,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    """The caller's notifications, newest first, and how many are unread."""

    def read() -> tuple[list[NotificationOut], int]:
        items = services.inbox.list(user.username, unread_only=unread, limit=limit)
        return items, services.inbox.count_unread(user.username)

    items, count = await run_in_threadpool(read)
    return NotificationPage(items=[_public(user, item) for item in items], unread=count)


@router.post("/read", response_model=MarkedOut)
async def mark_read(body: MarkReadIn, user: CurrentUser, services: ServicesDep) -> MarkedOut:
    """Mark some of the caller's notifications read; other ids are ignored."""
    marked = await run_in_threadpool(
        services.inbox.mark_read, user.username, body.ids, datetime.now(UTC)
    )
    return MarkedOut(marked=marked)

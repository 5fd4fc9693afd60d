"""Recording reads of a person's data and failed sign-ins in the access log.

The routers call these after they have what they will answer, with the cases whose
person (notes, a visa number, a referral's shared fields) the answer shows. One INSERT
per request, in the threadpool like the reads themselves. `path` is the API path read,
without its query string (a name search must not land in the log).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from amparo.users import User
from api.deps import Services
from store.access_log import AccessKind

__all__ = ["AccessKind", "record_failed_sign_in", "record_reads"]


async def record_reads(
    services: Services, user: User, kind: AccessKind, case_ids: Iterable[UUID], path: str
) -> None:
    """`user` was shown the person of each of `case_ids` (once each, duplicates dropped)."""
    shown = list(dict.fromkeys(case_ids))
    if not shown:
        return
    await run_in_threadpool(
        services.access_log.record_many,
        user.username,
        kind,
        shown,
        path=path,
        at=datetime.now(UTC),
    )


async def record_failed_sign_in(services: Services, tried: str) -> None:
    """A sign-in failed: `tried` is the name given, whether or not such a user exists."""
    await run_in_threadpool(
        services.access_log.record,
        tried,
        AccessKind.LOGIN_FAILED,
        path="/auth/token",
        at=datetime.now(UTC),
    )

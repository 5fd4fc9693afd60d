"""Erasing a person's data (admin): the case's path stays, their personal fields do not."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from amparo.erasure import erase_person
from amparo.users import Role, User
from api.deps import ServicesDep, allow
from api.problems import PROBLEM_RESPONSES, ProblemError
from api.routers.cases import IdempotencyKey, _envelope
from api.schemas import Erasure, ErasureIn
from domain import commands as cmd
from store.case_state import stored_state

router = APIRouter(tags=["cases"], responses=PROBLEM_RESPONSES)
Admin = Annotated[User, allow(Role.ADMIN)]


@router.post("/cases/{case_id}/erasure", response_model=Erasure)
async def erase(
    case_id: uuid.UUID, body: ErasureIn, user: Admin, services: ServicesDep,
    key: IdempotencyKey = None,
) -> Erasure:  # fmt: skip
    """Destroy the person's data key: their names, birth date, notes, reasons and visa
    numbers become unreadable everywhere (events, projections, backups); the steps, dates
    and codes stay, and so do the statistics. Only a closed case; recorded as an event."""
    if await run_in_threadpool(services.reads.get, case_id) is None:
        raise ProblemError(404, "case_not_found", "no such case")
    assert services.store is not None  # built with the API's services
    command = cmd.ErasePerson(**_envelope(user, key, "erase", case_id, body), reason=body.reason)
    await erase_person(services.commands, services.store, case_id, command)
    keys = services.reads.keys
    state = await run_in_threadpool(stored_state, services.reads.engine, case_id, keys)
    assert state is not None and state.erased_at is not None  # just stored
    return Erasure(case_id=case_id, erased_at=state.erased_at)

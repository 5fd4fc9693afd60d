"""Visas and permits: register on a case, renew, cancel, and list those expiring soon."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from starlette.concurrency import run_in_threadpool

from amparo.users import User
from api.access import list_scope, reads_person, visible_case
from api.audit import AccessKind, record_reads
from api.deps import CaseReader, Caseworker, Services, ServicesDep
from api.problems import PROBLEM_RESPONSES, ProblemError
from api.routers.cases import IdempotencyKey, _envelope
from api.schemas import VisaCancellationIn, VisaCreate, VisaPage, VisaPublic, VisaRenewalIn
from domain import commands as cmd
from domain.ids import derived_id
from domain.vocabulary import VisaState
from store.visas import VisaReads, VisaSummary

router = APIRouter(tags=["visas"], responses=PROBLEM_RESPONSES)


def _reads(services: Services) -> VisaReads:
    return VisaReads(services.reads.engine)


async def _public(services: Services, user: User, found: Sequence[VisaSummary]) -> list[VisaPublic]:
    """The visas as `user` may see them: the number (from the case state) only for those
    who may read the person's data; it is never in the visa projection."""
    readable = [(v.case_id, v.visa_id) for v in found
                if reads_person(user, v.assigned_to, v.institution)]  # fmt: skip
    keys = services.reads.keys
    held = await run_in_threadpool(_reads(services).personal, readable, keys) if readable else {}
    return [
        VisaPublic(
            **v.model_dump(),
            number=held[v.visa_id].number if v.visa_id in held else None,
            cancelled_reason=held[v.visa_id].cancelled_reason if v.visa_id in held else None,
        )
        for v in found
    ]


async def _one(services: Services, user: User, visa_id: uuid.UUID) -> VisaPublic:
    visa = await run_in_threadpool(_reads(services).get, visa_id)
    if visa is None:  # pragma: no cover - a command just stored it
        raise ProblemError(404, "visa_not_found", "no such visa")
    return (await _public(services, user, [visa]))[0]


async def _visible_visa(services: Services, user: User, visa_id: uuid.UUID) -> VisaSummary:
    """The visa if `user` may see its case; otherwise 404, the same answer as a missing one."""
    visa = await run_in_threadpool(_reads(services).get, visa_id)
    if visa is not None:
        try:
            await visible_case(services, user, visa.case_id)
            return visa
        except ProblemError:
            pass
    raise ProblemError(404, "visa_not_found", "no such visa")


@router.post(
    "/cases/{case_id}/visas", status_code=status.HTTP_201_CREATED, response_model=VisaPublic
)
async def register_visa(
    case_id: uuid.UUID, body: VisaCreate, user: Caseworker, services: ServicesDep,
    key: IdempotencyKey = None,
) -> VisaPublic:  # fmt: skip
    """Register a visa or permit the person holds; reminders go out before it expires."""
    await visible_case(services, user, case_id)
    command = cmd.RegisterVisa(
        **_envelope(user, key, "visa", case_id, body),
        visa_kind=body.kind,
        number=body.number,
        issued_on=body.issued_on,
        expires_on=body.expires_on,
        policy=services.settings.visa_policy,
    )
    await services.commands.send(case_id, command)
    return await _one(services, user, derived_id(command.command_id, "visa"))


@router.post("/visas/{visa_id}/renewal", response_model=VisaPublic)
async def renew_visa(
    visa_id: uuid.UUID, body: VisaRenewalIn, user: Caseworker, services: ServicesDep,
    key: IdempotencyKey = None,
) -> VisaPublic:  # fmt: skip
    """Record a renewal: the new expiry date (and number, if it changed); a new cycle of
    reminders starts."""
    visa = await _visible_visa(services, user, visa_id)
    command = cmd.RenewVisa(
        **_envelope(user, key, "renewal", visa_id, body),
        visa_id=visa_id,
        expires_on=body.expires_on,
        number=body.number,
    )
    await services.commands.send(visa.case_id, command)
    return await _one(services, user, visa_id)


@router.post("/visas/{visa_id}/cancellation", response_model=VisaPublic)
async def cancel_visa(
    visa_id: uuid.UUID, body: VisaCancellationIn, user: CaseReader, services: ServicesDep,
    key: IdempotencyKey = None,
) -> VisaPublic:  # fmt: skip
    """Stop following a visa (the person returned, or it was revoked); it is final."""
    visa = await _visible_visa(services, user, visa_id)
    command = cmd.CancelVisa(
        **_envelope(user, key, "cancellation", visa_id, body), visa_id=visa_id, reason=body.reason
    )
    await services.commands.send(visa.case_id, command)
    return await _one(services, user, visa_id)


@router.get("/visas", response_model=VisaPage)
async def list_visas(
    user: CaseReader,
    services: ServicesDep,
    expiring_within_days: Annotated[
        int | None, Query(ge=0, le=3650, description="active visas expiring within this many days")
    ] = None,
    case_id: uuid.UUID | None = None,
    state: VisaState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> VisaPage:
    """Visas of the cases the caller may see, soonest expiry first."""
    scope = list_scope(user)
    try:
        page = await run_in_threadpool(
            lambda: _reads(services).list(
                datetime.now(UTC).date(),
                expiring_within_days=expiring_within_days,
                case_id=case_id,
                state=state,
                limit=limit,
                cursor=cursor,
                **scope,
            )
        )
    except ValueError:
        raise ProblemError(422, "invalid_input", "cursor: not a cursor from this API") from None
    items = await _public(services, user, page.items)
    await _record_numbers_read(services, user, items, "/visas")
    return VisaPage(items=items, next_cursor=page.next_cursor)


@router.get("/visas/{visa_id}", response_model=VisaPublic)
async def get_visa(visa_id: uuid.UUID, user: CaseReader, services: ServicesDep) -> VisaPublic:
    """One visa: dates, state, renewals, the latest reminder."""
    visa = await _visible_visa(services, user, visa_id)
    shown = await _public(services, user, [visa])
    await _record_numbers_read(services, user, shown, f"/visas/{visa_id}")
    return shown[0]


async def _record_numbers_read(
    services: Services, user: User, shown: Sequence[VisaPublic], path: str
) -> None:
    """Once per case whose visa number the answer shows."""
    read = (v.case_id for v in shown if v.number is not None)
    await record_reads(services, user, AccessKind.VISA_READ, read, path)

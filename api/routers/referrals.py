"""Referrals: institutions list and answer theirs; caseworkers revoke or redirect them.

An institution's user answers with a bearer token; a webhook institution may instead
sign its answer with its shared secret (`POST /referrals/{id}/signed-answer`). Either way
the answer is a command to the case's workflow, so two answers at once cannot both win.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from amparo.signing import SIGNATURE_HEADER, TOLERANCE_SECONDS, SignatureError, verify
from amparo.users import Role, User
from api.access import can_see_referral, list_referral_scope, visible_case
from api.audit import AccessKind, record_reads
from api.deps import CaseReader, CurrentUser, Services, ServicesDep, allow
from api.problems import PROBLEM_RESPONSES, ProblemError
from api.routers.cases import IdempotencyKey, _command_id, _envelope
from api.schemas import (
    InstitutionPublic,
    ReferralAnswerIn,
    ReferralPage,
    ReferralPublic,
    ReferralRedirectionIn,
    ReferralRevocationIn,
)
from domain import CaseState
from domain import commands as cmd
from domain.institutions import WebhookChannel
from domain.referrals import payload
from domain.vocabulary import ReferralState
from store.inbound import SeenSignatures
from store.referrals import InvalidCursor, ReferralReads, ReferralSummary

router = APIRouter(tags=["referrals"], responses=PROBLEM_RESPONSES)
Institution = Annotated[User, allow(Role.INSTITUTION)]
ReferralReader = Annotated[User, allow(Role.INSTITUTION, Role.SUPERVISOR, Role.CASEWORKER)]


def _reads(services: Services) -> ReferralReads:
    return ReferralReads(services.reads.engine)


@router.get("/institutions", response_model=list[InstitutionPublic])
async def list_institutions(user: CurrentUser, services: ServicesDep) -> list[InstitutionPublic]:
    """The institutions of the registry and the steps each serves (for referral forms)."""
    return [
        InstitutionPublic(id=i.id, name=i.name, steps=sorted(i.steps), channel=i.channel.kind)
        for i in services.registry.institutions
    ]


def _public(
    services: Services,
    user: User,
    found: Sequence[ReferralSummary],
    states: dict[uuid.UUID, CaseState],
) -> list[ReferralPublic]:
    """Referrals as `user` may see them: the person's shared fields for the institution
    while its referral is live; the case id and reasons for those who may see them."""
    items = []
    for r in found:
        state = states.get(r.case_id)
        status = state.referrals.get(r.referral_id) if state else None
        person = None
        institution = services.registry.get(r.institution)
        own = user.role is Role.INSTITUTION
        if own and state is not None and status is not None and not status.final and institution:
            step = state.steps.get(r.step)
            person = payload(
                status,
                institution,
                crime_type=state.crime_type,
                person=state.person,
                victim=state.victim,
                due_at=step.due_at if step else None,
            )["person"]
        items.append(
            ReferralPublic(
                **r.model_dump(
                    exclude={"overridden", "assigned_to", "case_institution", "case_id"}
                ),
                case_id=None if own else r.case_id,
                consent_overridden=r.overridden,
                reason=status.reason if status else None,
                person=person,
            )
        )
    return items


async def _with_states(
    services: Services, user: User, found: Sequence[ReferralSummary]
) -> list[ReferralPublic]:
    case_ids = [r.case_id for r in found]
    states = await run_in_threadpool(_reads(services).case_states, case_ids, services.reads.keys)
    return _public(services, user, found, states)


async def _visible(services: Services, user: User, referral_id: uuid.UUID) -> ReferralSummary:
    """The referral if `user` may see it; otherwise 404, as for one that does not exist."""
    found = await run_in_threadpool(_reads(services).get, referral_id)
    if found is None or not can_see_referral(user, found):
        raise ProblemError(404, "referral_not_found", "no such referral")
    return found


@router.get("/referrals", response_model=ReferralPage)
async def list_referrals(
    user: ReferralReader,
    services: ServicesDep,
    state: ReferralState | None = None,
    case_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ReferralPage:
    """An institution's own referrals, or those of a supervisor's (caseworker's) cases;
    oldest first, `next_cursor` for the next page."""
    scope = list_referral_scope(user)
    try:
        page = await run_in_threadpool(
            lambda: _reads(services).list(
                state=state, case_id=case_id, limit=limit, cursor=cursor, **scope
            )
        )
    except InvalidCursor:
        raise ProblemError(422, "invalid_input", "cursor: not a cursor from this API") from None
    items = await _with_states(services, user, page.items)
    await _record_persons_read(services, user, page.items, items, "/referrals")
    return ReferralPage(items=items, next_cursor=page.next_cursor)


@router.get("/referrals/{referral_id}", response_model=ReferralPublic)
async def get_referral(
    referral_id: uuid.UUID, user: ReferralReader, services: ServicesDep
) -> ReferralPublic:
    """One referral: its state, dates and, for its institution, the person's shared data."""
    found = await _visible(services, user, referral_id)
    shown = await _with_states(services, user, [found])
    await _record_persons_read(services, user, [found], shown, f"/referrals/{referral_id}")
    return shown[0]


async def _record_persons_read(
    services: Services,
    user: User,
    found: Sequence[ReferralSummary],
    shown: Sequence[ReferralPublic],
    path: str,
) -> None:
    """Once per case whose person's shared fields the answer shows (to an institution)."""
    read = (r.case_id for r, public in zip(found, shown, strict=True) if public.person)
    await record_reads(services, user, AccessKind.REFERRAL_READ, read, path)


async def _answered(
    services: Services, user: User, found: ReferralSummary, command: cmd.AnswerReferral
) -> ReferralPublic:
    await services.commands.send(found.case_id, command)
    after = await run_in_threadpool(_reads(services).get, found.referral_id)
    assert after is not None  # the answer was just stored with it
    return (await _with_states(services, user, [after]))[0]


@router.post("/referrals/{referral_id}/answer", response_model=ReferralPublic)
async def answer_referral(
    referral_id: uuid.UUID,
    body: ReferralAnswerIn,
    user: Institution,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ReferralPublic:
    """The institution's answer: `accepted` (the step is in progress), `declined` (the step
    is pending again; `note` says why), `completed` (the step is completed)."""
    found = await _visible(services, user, referral_id)
    assert user.institution is not None  # an institution user always has one
    command = cmd.AnswerReferral(
        **_envelope(user, key, "answer", referral_id, body),
        referral_id=referral_id,
        institution=user.institution,
        decision=body.decision,
        reference=body.reference,
        note=body.note,
    )
    return await _answered(services, user, found, command)


@router.post(
    "/referrals/{referral_id}/signed-answer",
    response_model=ReferralPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReferralAnswerIn.model_json_schema()}},
        }
    },
)
async def signed_answer(
    referral_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=1024)] = None,
    key: IdempotencyKey = None,
) -> ReferralPublic:
    """A webhook institution's answer, signed like the referrals it receives:
    `Amparo-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>` with its shared
    secret. A forged, stale (more than 5 minutes off) or replayed request is 401 and
    changes nothing."""
    raw = await request.body()
    found = await run_in_threadpool(_reads(services).get, referral_id)
    institution = services.registry.get(found.institution) if found else None
    channel = institution.channel if institution else None
    if found is None or not isinstance(channel, WebhookChannel):
        raise ProblemError(401, "signature_invalid", "no signed answers are taken for this")
    now = datetime.now(UTC)
    try:
        verify(channel.secret.get_secret_value(), raw, signature, now=int(now.timestamp()))
    except SignatureError as error:
        raise ProblemError(401, error.code, "the signature does not hold") from None
    assert signature is not None
    seen = SeenSignatures(services.reads.engine, keep=timedelta(seconds=3 * TOLERANCE_SECONDS))
    if not await run_in_threadpool(seen.first_time, signature, now):
        raise ProblemError(401, "signature_replayed", "this signed request was taken already")
    try:
        body = ReferralAnswerIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as error:
        raise ProblemError(
            422, "invalid_input", f"the body is not an answer: {type(error).__name__}"
        ) from None
    assert institution is not None
    command = cmd.AnswerReferral(
        command_id=_command_id(key, institution.id, "answer", referral_id, body)
        if key
        else uuid.uuid5(referral_id, signature),
        actor=institution.id,
        at=now,
        referral_id=referral_id,
        institution=institution.id,
        decision=body.decision,
        reference=body.reference,
        note=body.note,
    )
    return await _answered(services, _webhook_user(institution.id), found, command)


def _webhook_user(institution: str) -> User:
    """The institution's system, answering for it: sees what its users would."""
    return User(
        username=institution,
        role=Role.INSTITUTION,
        institution=institution,
        language="es",
        disabled=False,
    )


async def _case_referral(services: Services, user: User, referral_id: uuid.UUID) -> ReferralSummary:
    """A referral of a case `user` works on (its caseworker, its supervisor)."""
    found = await run_in_threadpool(_reads(services).get, referral_id)
    if found is None:
        raise ProblemError(404, "referral_not_found", "no such referral")
    try:
        await visible_case(services, user, found.case_id)
    except ProblemError:
        raise ProblemError(404, "referral_not_found", "no such referral") from None
    return found


@router.post("/referrals/{referral_id}/revocation", response_model=ReferralPublic)
async def revoke_referral(
    referral_id: uuid.UUID,
    body: ReferralRevocationIn,
    user: CaseReader,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ReferralPublic:
    """Withdraw a referral that is not final: the step is pending again."""
    found = await _case_referral(services, user, referral_id)
    command = cmd.RevokeReferral(
        **_envelope(user, key, "revoke", referral_id, body),
        referral_id=referral_id,
        reason=body.reason,
    )
    await services.commands.send(found.case_id, command)
    return await get_referral(referral_id, user, services)


@router.post("/referrals/{referral_id}/redirection", response_model=ReferralPublic)
async def redirect_referral(
    referral_id: uuid.UUID,
    body: ReferralRedirectionIn,
    user: CaseReader,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ReferralPublic:
    """Send a referral that is not final to another institution instead; answers the new
    referral (the old one is `redirected`, pointing to it)."""
    found = await _case_referral(services, user, referral_id)
    target = services.referral_target(body.institution, found.step)
    command = cmd.RedirectReferral(
        **_envelope(user, key, "redirect", referral_id, body),
        referral_id=referral_id,
        institution=body.institution,
        reason=body.reason,
        channel=target.channel.kind,
    )
    await services.commands.send(found.case_id, command)
    old = await run_in_threadpool(_reads(services).get, referral_id)
    assert old is not None and old.redirected_to is not None
    return await get_referral(old.redirected_to, user, services)

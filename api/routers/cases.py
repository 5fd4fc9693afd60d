"""Cases: open, list, read, and every command on a case (steps, notes, closure, …)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from amparo.users import Role, User
from api.access import check_visible, list_scope, visible_case
from api.audit import AccessKind, record_reads
from api.deps import (
    CaseReader,
    CaseReaderOnCase,
    Caseworker,
    CaseworkerOnCase,
    Services,
    ServicesDep,
    SupervisorOnCase,
)
from api.problems import PROBLEM_RESPONSES, ProblemError
from api.schemas import (
    AcknowledgeIn,
    AssignmentIn,
    CaseCreate,
    CaseCreated,
    CasePage,
    CasePublic,
    ClosureDecisionIn,
    ClosureIn,
    ConsentIn,
    EventPublic,
    NoteIn,
    StepActionIn,
    StepPublic,
)
from domain import commands as cmd
from domain.person import Person, VictimContext
from domain.sla import SlaPolicy
from domain.vocabulary import CaseStatus, CrimeType, Step, StepAction
from store.read_models import CaseSummary

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
IdempotencyKey = Annotated[
    uuid.UUID | None,
    Header(alias="Idempotency-Key", description="repeat a request safely: applied once"),
]


def _command_id(key: uuid.UUID | None, *request: object) -> uuid.UUID:
    """The command's id: from the Idempotency-Key *and* what is asked, so a key replayed
    with the same request is applied once, and a key reused for another request does not
    silently return the first one's answer (it is a different command)."""
    if key is None:
        return uuid.uuid4()
    fingerprint = "|".join(
        r.model_dump_json() if isinstance(r, BaseModel) else str(r) for r in request
    )
    return uuid.uuid5(key, fingerprint)


def _envelope(user: User, key: uuid.UUID | None, *request: object) -> dict[str, Any]:
    """What every command carries: its id (see `_command_id`), the actor, the time."""
    return {
        "command_id": _command_id(key, user.username, *request),
        "actor": user.username,
        "at": datetime.now(UTC),
    }


async def _public(services: Services, case: CaseSummary) -> CasePublic:
    return _shown(case, await run_in_threadpool(services.reads.person, case.case_id))


def _shown(case: CaseSummary, person: Person | None) -> CasePublic:
    return CasePublic(
        **case.model_dump(exclude={"steps", "version"}),
        version=case.version,
        person=person,
        steps=[StepPublic(**s.model_dump()) for s in case.steps],
    )


async def _after_command(services: Services, user: User, case_id: uuid.UUID) -> CasePublic:
    """The case as the projection shows it now: the command's events are already stored.
    The case and its person in one trip to the threadpool, on one connection."""
    found = await run_in_threadpool(services.reads.with_person, case_id)
    if found is None:  # pragma: no cover - the command just stored its events
        raise ProblemError(404, "case_not_found", "no such case")
    return _shown(*found)


async def _caseworker_institution(services: Services, user: User, name: str) -> str | None:
    """The institution a new assignee works for; they must be a caseworker of ours."""
    if name == user.username and user.role is Role.CASEWORKER:
        return user.institution
    other = await run_in_threadpool(services.users.get, name)
    if other is None or other.role is not Role.CASEWORKER or other.disabled:
        raise ProblemError(422, "unknown_caseworker", f"{name} is not an active caseworker")
    if other.institution != user.institution:
        raise ProblemError(422, "other_institution", f"{name} works for another institution")
    return other.institution


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CaseCreated)
async def open_case(
    body: CaseCreate, user: Caseworker, services: ServicesDep, key: IdempotencyKey = None
) -> CaseCreated:
    """Open a case; it is assigned to the caller unless `assigned_to` names a colleague."""
    assignee = body.assigned_to or user.username
    institution = await _caseworker_institution(services, user, assignee)
    settings = services.settings
    envelope = _envelope(user, key, "open", body)
    command = cmd.OpenCase(
        **envelope,
        occurred_at=body.occurred_at,
        case_id=uuid.uuid5(envelope["command_id"], "case"),
        crime_type=body.crime_type,
        person=Person(**body.person.model_dump()),
        victim=VictimContext(
            exploitation_types=tuple(body.exploitation_types),
            means_of_control=tuple(body.means_of_control),
            recruiter_relation=body.recruiter_relation,
            labour_industry=body.labour_industry,
        ),
        identified_by=body.identified_by,
        location=body.location,
        assigned_to=assignee,
        institution=institution,
        consent=cmd.Consent(
            assistance=body.consent_assistance, data_sharing=body.consent_data_sharing
        ),
        sla=SlaPolicy.with_overrides(settings.sla_days, settings.stale_days),
    )
    await services.commands.open(command)
    case = await _after_command(services, user, command.case_id)
    return CaseCreated(
        **case.model_dump(),
        possible_duplicates=await _identified_before(services, user, command),
    )


async def _identified_before(
    services: Services, user: User, command: cmd.OpenCase
) -> list[uuid.UUID]:
    """Visible cases of the same person (same name, birth date and nationality)."""
    same = await run_in_threadpool(services.reads.same_person, command.person)
    same.discard(command.case_id)
    if not same:
        return []
    page = await run_in_threadpool(
        lambda: services.reads.list(case_ids=same, limit=200, **list_scope(user))
    )
    return [c.case_id for c in page.items]


@router.get("", response_model=CasePage)
async def list_cases(
    user: CaseReader,
    services: ServicesDep,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    step: Annotated[Step | None, Query(description="cases with this step open")] = None,
    overdue: bool | None = None,
    assigned_to: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9._-]+$")] = None,
    crime_type: CrimeType | None = None,
    q: Annotated[str | None, Query(max_length=200, description="a person's name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> CasePage:
    """Cases the caller may see, newest first; pass `next_cursor` back for the next page.

    `q` finds a person by name, ignoring accents and case ("pena" finds "Peña").
    """
    scope = list_scope(user)
    if assigned_to is not None and scope.get("assigned_to", assigned_to) != assigned_to:
        return CasePage(items=[], next_cursor=None)
    filters: dict[str, Any] = {"assigned_to": assigned_to, **scope}
    if q is not None:
        filters["case_ids"] = await run_in_threadpool(services.reads.search, q)
    try:
        page = await run_in_threadpool(
            lambda: services.reads.list(
                status=status_,
                step=step,
                overdue=overdue,
                crime_type=crime_type,
                limit=limit,
                cursor=cursor,
                **filters,
            )
        )
    except ValueError:
        raise ProblemError(422, "invalid_input", "cursor: not a cursor from this API") from None
    items = [await _public(services, c) for c in page.items]
    shown = (c.case_id for c in items if c.person is not None)
    await record_reads(services, user, AccessKind.CASE_READ, shown, "/cases")
    return CasePage(items=items, next_cursor=page.next_cursor)


@router.get("/{case_id}", response_model=CasePublic)
async def get_case(case_id: uuid.UUID, user: CaseReader, services: ServicesDep) -> CasePublic:
    """One case with every step: state, dates, overdue, institution."""
    case = await _public(services, await visible_case(services, user, case_id))
    await record_reads(services, user, AccessKind.CASE_READ, [case_id], f"/cases/{case_id}")
    return case


@router.get("/{case_id}/events", response_model=list[EventPublic])
async def case_events(
    case_id: uuid.UUID, on: CaseReaderOnCase, services: ServicesDep
) -> list[EventPublic]:
    """The case's events in order: every decision, who made it and when."""
    user = on.user
    check_visible(on)
    stored = await run_in_threadpool(services.reads.events, case_id)
    path = f"/cases/{case_id}/events"
    await record_reads(services, user, AccessKind.EVENTS_READ, [case_id], path)
    return [
        EventPublic(
            event_id=e.event_id,
            case_id=e.case_id,
            version=e.version,
            type=e.type,
            occurred_at=e.occurred_at,
            recorded_at=e.recorded_at,
            actor=e.actor,
            data=e.data_json(),
        )
        for e in stored
    ]


async def _send(
    services: Services, user: User, case_id: uuid.UUID, command: cmd.Command
) -> CasePublic:
    await services.commands.send(case_id, command)  # type: ignore[arg-type]
    return await _after_command(services, user, case_id)


@router.post("/{case_id}/steps/{step}", response_model=CasePublic)
async def advance_step(
    case_id: uuid.UUID,
    step: Step,
    body: StepActionIn,
    on: CaseReaderOnCase,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> CasePublic:
    """Act on a step: refer (to an institution of the registry that serves the step),
    start, complete, not_needed, decline. A referral needs the person's data-sharing
    consent; without it, only a supervisor may refer, giving `consent_override` (recorded)."""
    user = on.user
    overriding = user.role is Role.SUPERVISOR
    if overriding != (body.consent_override is not None) or (
        overriding and body.action is not StepAction.REFER
    ):
        raise ProblemError(
            403, "forbidden", "only a supervisor overrides consent, and only to refer"
        )
    check_visible(on)
    channel = None
    if body.action is StepAction.REFER and body.institution and body.institution.strip():
        channel = services.referral_target(body.institution, step).channel.kind
    command = cmd.AdvanceStep(
        **_envelope(user, key, "step", case_id, step, body),
        step=step,
        channel=channel,
        **body.model_dump(),
    )
    return await _send(services, user, case_id, command)


@router.post("/{case_id}/notes", response_model=CasePublic)
async def add_note(
    case_id: uuid.UUID, body: NoteIn, on: CaseworkerOnCase, services: ServicesDep,
    key: IdempotencyKey = None,
) -> CasePublic:  # fmt: skip
    """Record a note on the case (or on one of its steps)."""
    user = on.user
    check_visible(on)
    command = cmd.AddNote(
        **_envelope(user, key, "note", case_id, body), text=body.text, step=body.step
    )
    return await _send(services, user, case_id, command)


@router.post("/{case_id}/consent", response_model=CasePublic)
async def record_consent(
    case_id: uuid.UUID, body: ConsentIn, on: CaseworkerOnCase, services: ServicesDep,
    key: IdempotencyKey = None,
) -> CasePublic:  # fmt: skip
    """Record consent given or withdrawn, for assistance or for sharing data."""
    user = on.user
    check_visible(on)
    kind = cmd.GiveConsent if body.given else cmd.WithdrawConsent
    command = kind(**_envelope(user, key, "consent", case_id, body), scope=body.scope)
    return await _send(services, user, case_id, command)


@router.post("/{case_id}/assignment", response_model=CasePublic)
async def assign_case(
    case_id: uuid.UUID, body: AssignmentIn, on: SupervisorOnCase, services: ServicesDep,
    key: IdempotencyKey = None,
) -> CasePublic:  # fmt: skip
    """Reassign the case to another caseworker of the institution."""
    user = on.user
    check_visible(on)
    institution = await _caseworker_institution(services, user, body.caseworker)
    command = cmd.AssignCase(
        **_envelope(user, key, "assign", case_id, body),
        caseworker=body.caseworker,
        institution=institution,
    )
    return await _send(services, user, case_id, command)


@router.post("/{case_id}/closure", response_model=CasePublic)
async def request_closure(
    case_id: uuid.UUID, body: ClosureIn, on: CaseworkerOnCase, services: ServicesDep,
    key: IdempotencyKey = None,
) -> CasePublic:  # fmt: skip
    """Ask the supervisor to close the case."""
    user = on.user
    check_visible(on)
    command = cmd.RequestClosure(
        **_envelope(user, key, "closure", case_id, body), reason=body.reason, note=body.note
    )
    return await _send(services, user, case_id, command)


@router.post("/{case_id}/closure/decision", response_model=CasePublic)
async def decide_closure(
    case_id: uuid.UUID, body: ClosureDecisionIn, on: SupervisorOnCase, services: ServicesDep,
    key: IdempotencyKey = None,
) -> CasePublic:  # fmt: skip
    """Approve (the case closes) or reject (it stays open) a closure request."""
    user = on.user
    check_visible(on)
    command = cmd.DecideClosure(
        **_envelope(user, key, "decision", case_id, body), approved=body.approved, note=body.note
    )
    return await _send(services, user, case_id, command)


@router.post("/{case_id}/steps/{step}/overdue/acknowledge", response_model=CasePublic)
async def acknowledge_overdue(
    case_id: uuid.UUID, step: Step, body: AcknowledgeIn, on: SupervisorOnCase,
    services: ServicesDep, key: IdempotencyKey = None,
) -> CasePublic:  # fmt: skip
    """Acknowledge an overdue step; it stays on the board, marked, until it moves."""
    user = on.user
    check_visible(on)
    command = cmd.AcknowledgeOverdue(
        **_envelope(user, key, "acknowledge", case_id, step, body), step=step, note=body.note
    )
    return await _send(services, user, case_id, command)

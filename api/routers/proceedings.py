"""Criminal proceedings: the prosecutor's office, caseworkers and supervisors record them.

A proceeding is its own stream (`amparo.proceedings`), not a case's: commands are decided
and stored here, in the request, with no workflow. Victims are cases, and who names them
how follows the case rules (`api.access`): a caseworker links the cases assigned to them,
a supervisor their institution's, and the prosecutor's office (an institution user, whose
institution serves the `legal` step in the registry) the referrals it received, never a
case id: what it is shown of a proceeding's victims is their number.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from amparo.proceedings import ProceedingCommands
from amparo.users import Role, User
from api.access import can_see_referral, list_scope, visible_case
from api.deps import CurrentUser, Services, ServicesDep
from api.problems import PROBLEM_RESPONSES, ProblemError
from api.routers.cases import IdempotencyKey, _envelope
from domain import proceedings as pr
from domain.ids import derived_id
from domain.person import Sex
from domain.vocabulary import CrimeType, Step
from store.proceedings import InvalidCursor, ProceedingStore, ProceedingSummary
from store.referrals import ReferralReads

router = APIRouter(prefix="/proceedings", tags=["proceedings"], responses=PROBLEM_RESPONSES)
MAX_VICTIMS = 500  # per command, as the domain's commands bound them

# --- bodies --------------------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Dated(_Input):
    occurred_at: AwareDatetime | None = Field(
        default=None, description="when it happened, if recorded after the fact (not later)"
    )

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        # Later than now is the domain's refusal (409 occurred_in_future); this bound keeps
        # a moment the database can store.
        if value is not None and value.year < 1900:
            raise ValueError("must be after 1900")
        return value


VictimIds = Annotated[list[uuid.UUID], Field(max_length=MAX_VICTIMS)]


class _Victims(_Dated):
    case_ids: VictimIds = Field(
        default_factory=list, description="cases you work on (caseworkers, supervisors)"
    )
    referral_ids: VictimIds = Field(
        default_factory=list,
        description="referrals sent to your institution (the prosecutor's office): their cases",
    )

    @model_validator(mode="after")
    def _bounded(self) -> _Victims:
        if len(set(self.case_ids)) + len(set(self.referral_ids)) > MAX_VICTIMS:
            raise ValueError(f"at most {MAX_VICTIMS} victims at once")
        return self


class ProceedingCreate(_Victims):
    crime_type: CrimeType
    reference: pr.Reference | None = Field(default=None, description="the prosecutor's file")


class VictimsIn(_Victims):
    @model_validator(mode="after")
    def _some(self) -> VictimsIn:
        if not self.case_ids and not self.referral_ids:
            raise ValueError("name at least one case or referral")
        return self


class ImputedPersonIn(_Input):
    sex: Sex
    nationality: str | None = Field(
        default=None, pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2"
    )


class ImputationsIn(_Dated):
    persons: list[ImputedPersonIn] = Field(min_length=1, max_length=200)


class AccusationIn(_Dated):
    pass


class SentenceIn(_Dated):
    verdict: pr.Verdict
    convicted: int = Field(ge=0, le=200, description="persons convicted (0 for an acquittal)")


class ArchivalIn(_Dated):
    reason: pr.ArchiveReason


class ProceedingPublic(BaseModel):
    """A proceeding as its reader may see it: `case_ids` are the linked cases they may see
    (null for the prosecutor's office, which sees only how many victims there are)."""

    proceeding_id: uuid.UUID
    version: int
    crime_type: CrimeType
    stage: pr.ProceedingStage
    reference: str | None
    opened_at: datetime
    prosecuted_at: datetime | None
    ended_at: datetime | None
    verdict: pr.Verdict | None
    convicted: int
    imputed: int
    archive_reason: pr.ArchiveReason | None
    victims: int
    case_ids: list[uuid.UUID] | None
    last_event_at: datetime


class ProceedingPage(BaseModel):
    items: list[ProceedingPublic]
    next_cursor: str | None = None


# --- who -----------------------------------------------------------------------------------


def _prosecutes(services: Services, user: User) -> bool:
    """An institution user of an institution serving the `legal` step: the prosecutor's."""
    institution = services.registry.get(user.institution) if user.institution else None
    return institution is not None and institution.serves(Step.LEGAL)


async def _recorder(user: CurrentUser, services: ServicesDep) -> User:
    """Caseworkers, supervisors and the prosecutor's office; anyone else 403 (analysts
    read the reports), before any input is read."""
    if user.role in (Role.CASEWORKER, Role.SUPERVISOR):
        return user
    if user.role is Role.INSTITUTION and _prosecutes(services, user):
        return user
    raise ProblemError(403, "forbidden", f"a {user.role} may not record proceedings")


Recorder = Annotated[User, Depends(_recorder)]


# --- helpers -------------------------------------------------------------------------------


def _store(services: Services) -> ProceedingStore:
    return ProceedingStore(services.reads.engine)


async def _public(
    services: Services, user: User, found: Sequence[ProceedingSummary]
) -> list[ProceedingPublic]:
    shown: dict[uuid.UUID, list[uuid.UUID]] = {}
    if user.role is not Role.INSTITUTION:
        ids = [p.proceeding_id for p in found]
        scope = list_scope(user)
        shown = await run_in_threadpool(lambda: _store(services).victims(ids, scope=scope))
    return [ProceedingPublic(**p.model_dump(), case_ids=shown.get(p.proceeding_id)) for p in found]


async def _one(services: Services, user: User, proceeding_id: uuid.UUID) -> ProceedingPublic:
    found = await run_in_threadpool(_store(services).get, proceeding_id)
    if found is None:
        raise ProblemError(404, "proceeding_not_found", "no such proceeding")
    return (await _public(services, user, [found]))[0]


async def _victims(services: Services, user: User, body: _Victims) -> tuple[uuid.UUID, ...]:
    """The cases named, each checked as the case rules say: a case not theirs, or a
    referral not sent to them (or not of their cases), is 404 like a missing one."""
    cases = []
    for case_id in dict.fromkeys(body.case_ids):
        cases.append((await visible_case(services, user, case_id)).case_id)
    referrals = ReferralReads(services.reads.engine)
    for referral_id in dict.fromkeys(body.referral_ids):
        referral = await run_in_threadpool(referrals.get, referral_id)
        if referral is None or not can_see_referral(user, referral):
            raise ProblemError(404, "referral_not_found", "no such referral")
        cases.append(referral.case_id)
    return tuple(dict.fromkeys(cases))


async def _record(
    services: Services, user: User, proceeding_id: uuid.UUID, command: pr.ProceedingCommand
) -> ProceedingPublic:
    commands = ProceedingCommands(_store(services))
    await run_in_threadpool(commands.record, proceeding_id, command)
    return await _one(services, user, proceeding_id)


async def _existing(services: Services, proceeding_id: uuid.UUID) -> None:
    if await run_in_threadpool(_store(services).get, proceeding_id) is None:
        raise ProblemError(404, "proceeding_not_found", "no such proceeding")


def _command(user: User, key: uuid.UUID | None, *request: Any) -> dict[str, Any]:
    return _envelope(user, key, "proceeding", *request)


# --- routes --------------------------------------------------------------------------------


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProceedingPublic)
async def open_proceeding(
    body: ProceedingCreate, user: Recorder, services: ServicesDep, key: IdempotencyKey = None
) -> ProceedingPublic:
    """Open an investigation, with the victims known so far. With an Idempotency-Key, the
    same request again answers with the same proceeding and opens no other."""
    envelope = _command(user, key, "open", body)
    proceeding_id = derived_id(envelope["command_id"], "proceeding")
    command = pr.OpenInvestigation(
        **envelope,
        occurred_at=body.occurred_at,
        proceeding_id=proceeding_id,
        crime_type=body.crime_type,
        case_ids=await _victims(services, user, body),
        reference=body.reference,
    )
    return await _record(services, user, proceeding_id, command)


@router.get("", response_model=ProceedingPage)
async def list_proceedings(
    user: Recorder,
    services: ServicesDep,
    crime_type: CrimeType | None = None,
    stage: pr.ProceedingStage | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ProceedingPage:
    """Proceedings, the most recently opened first; `next_cursor` for the next page."""
    try:
        page = await run_in_threadpool(
            lambda: _store(services).list(
                crime_type=crime_type, stage=stage, limit=limit, cursor=cursor
            )
        )
    except InvalidCursor:
        raise ProblemError(422, "invalid_input", "cursor: not a cursor from this API") from None
    items = await _public(services, user, page.items)
    return ProceedingPage(items=items, next_cursor=page.next_cursor)


@router.get("/{proceeding_id}", response_model=ProceedingPublic)
async def get_proceeding(
    proceeding_id: uuid.UUID, user: Recorder, services: ServicesDep
) -> ProceedingPublic:
    """One proceeding, with the linked cases the reader may see."""
    return await _one(services, user, proceeding_id)


@router.post("/{proceeding_id}/victims", response_model=ProceedingPublic)
async def link_victims(
    proceeding_id: uuid.UUID,
    body: VictimsIn,
    user: Recorder,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ProceedingPublic:
    """Link more victims: cases (or, for the prosecutor's office, referrals it received)."""
    await _existing(services, proceeding_id)
    command = pr.LinkVictims(
        **_command(user, key, "victims", proceeding_id, body),
        occurred_at=body.occurred_at,
        case_ids=await _victims(services, user, body),
    )
    return await _record(services, user, proceeding_id, command)


@router.post("/{proceeding_id}/imputations", response_model=ProceedingPublic)
async def impute_persons(
    proceeding_id: uuid.UUID,
    body: ImputationsIn,
    user: Recorder,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ProceedingPublic:
    """Persons imputed: counted with their sex and nationality, never named."""
    persons = tuple(pr.ImputedPerson(**p.model_dump()) for p in body.persons)
    command = pr.ImputePersons(
        **_command(user, key, "imputations", proceeding_id, body),
        occurred_at=body.occurred_at,
        persons=persons,
    )
    return await _record(services, user, proceeding_id, command)


@router.post("/{proceeding_id}/accusation", response_model=ProceedingPublic)
async def file_accusation(
    proceeding_id: uuid.UUID,
    body: AccusationIn,
    user: Recorder,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ProceedingPublic:
    """The accusation is filed: the proceeding is prosecuted (someone must be imputed)."""
    command = pr.FileAccusation(
        **_command(user, key, "accusation", proceeding_id, body), occurred_at=body.occurred_at
    )
    return await _record(services, user, proceeding_id, command)


@router.post("/{proceeding_id}/sentence", response_model=ProceedingPublic)
async def hand_down_sentence(
    proceeding_id: uuid.UUID,
    body: SentenceIn,
    user: Recorder,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ProceedingPublic:
    """The sentence after the accusation; it ends the proceeding."""
    command = pr.HandDownSentence(
        **_command(user, key, "sentence", proceeding_id, body),
        occurred_at=body.occurred_at,
        verdict=body.verdict,
        convicted=body.convicted,
    )
    return await _record(services, user, proceeding_id, command)


@router.post("/{proceeding_id}/archival", response_model=ProceedingPublic)
async def archive_proceeding(
    proceeding_id: uuid.UUID,
    body: ArchivalIn,
    user: Recorder,
    services: ServicesDep,
    key: IdempotencyKey = None,
) -> ProceedingPublic:
    """Archive it (before or after the accusation); it ends the proceeding."""
    command = pr.ArchiveProceeding(
        **_command(user, key, "archival", proceeding_id, body),
        occurred_at=body.occurred_at,
        reason=body.reason,
    )
    return await _record(services, user, proceeding_id, command)

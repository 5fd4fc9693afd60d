"""Criminal proceedings: the prosecution side that a case's `legal` step follows.

A proceeding is its own stream (not a case's): one proceeding may concern many victims and
one victim several proceedings. It moves through

    investigation ── accusation filed ──▶ prosecution ── sentence ──▶ sentenced (final)
          └──────────────── archived (final) ◀────────────┘

with persons imputed at any time before it ends (each counted once, with sex and
nationality where known: imputed persons are counted, never named). Like the case's,
this decider is pure: `decide_proceeding(state, command) -> events`, `evolve_proceeding`.
The statistical report (`reports.statistics`) counts its events.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from domain import errors
from domain.ids import event_id
from domain.person import Sex, country_code
from domain.vocabulary import CrimeType

Name = Annotated[str, Field(min_length=1, max_length=120)]
Reference = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w./ -]+$")]
CaseIds = Annotated[tuple[UUID, ...], Field(max_length=500)]


class ProceedingStage(StrEnum):
    INVESTIGATION = "investigation"
    PROSECUTION = "prosecution"  # the accusation is filed; the trial follows
    SENTENCED = "sentenced"
    ARCHIVED = "archived"

    @property
    def final(self) -> bool:
        return self in (ProceedingStage.SENTENCED, ProceedingStage.ARCHIVED)


class Verdict(StrEnum):
    CONDEMNATORY = "condemnatory"
    ACQUITTAL = "acquittal"


class ArchiveReason(StrEnum):
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"
    OFFENDER_NOT_IDENTIFIED = "offender_not_identified"
    NO_CRIME = "no_crime"
    DISMISSED = "dismissed"  # by the court, after the accusation
    MERGED = "merged"  # joined to another proceeding
    OTHER = "other"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImputedPerson(_Frozen):
    """One person imputed: only what statistics count (never a name)."""

    sex: Sex = Sex.UNKNOWN
    nationality: str | None = Field(default=None, description="ISO 3166-1 alpha-2")

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str | None) -> str | None:
        return None if value is None else country_code(value)


# ---------------------------------------------------------------- commands


class _Command(_Frozen):
    command_id: UUID
    actor: Name
    at: AwareDatetime
    occurred_at: AwareDatetime | None = None  # recorded after the fact

    @property
    def effective_at(self) -> datetime:
        return self.occurred_at or self.at


class OpenInvestigation(_Command):
    kind: Literal["open_investigation"] = "open_investigation"
    proceeding_id: UUID
    crime_type: CrimeType
    case_ids: CaseIds = ()
    reference: Reference | None = None  # the prosecutor's file number


class LinkVictims(_Command):
    kind: Literal["link_victims"] = "link_victims"
    case_ids: Annotated[tuple[UUID, ...], Field(min_length=1, max_length=500)]


class ImputePersons(_Command):
    kind: Literal["impute_persons"] = "impute_persons"
    persons: Annotated[tuple[ImputedPerson, ...], Field(min_length=1, max_length=200)]


class FileAccusation(_Command):
    kind: Literal["file_accusation"] = "file_accusation"


class HandDownSentence(_Command):
    kind: Literal["hand_down_sentence"] = "hand_down_sentence"
    verdict: Verdict
    convicted: int = Field(ge=0, le=200)


class ArchiveProceeding(_Command):
    kind: Literal["archive_proceeding"] = "archive_proceeding"
    reason: ArchiveReason


ProceedingCommand = (
    OpenInvestigation
    | LinkVictims
    | ImputePersons
    | FileAccusation
    | HandDownSentence
    | ArchiveProceeding
)


# ---------------------------------------------------------------- events


class InvestigationOpened(_Frozen):
    type: Literal["InvestigationOpened"] = "InvestigationOpened"
    crime_type: CrimeType
    case_ids: tuple[UUID, ...] = ()
    reference: str | None = None


class VictimsLinked(_Frozen):
    type: Literal["VictimsLinked"] = "VictimsLinked"
    case_ids: tuple[UUID, ...]


class PersonsImputed(_Frozen):
    type: Literal["PersonsImputed"] = "PersonsImputed"
    persons: tuple[ImputedPerson, ...]


class AccusationFiled(_Frozen):
    type: Literal["AccusationFiled"] = "AccusationFiled"


class SentenceHandedDown(_Frozen):
    type: Literal["SentenceHandedDown"] = "SentenceHandedDown"
    verdict: Verdict
    convicted: int


class ProceedingArchived(_Frozen):
    type: Literal["ProceedingArchived"] = "ProceedingArchived"
    reason: ArchiveReason


ProceedingEventData = Annotated[
    InvestigationOpened
    | VictimsLinked
    | PersonsImputed
    | AccusationFiled
    | SentenceHandedDown
    | ProceedingArchived,
    Field(discriminator="type"),
]
_DATA_ADAPTER: TypeAdapter[ProceedingEventData] = TypeAdapter(ProceedingEventData)
PROCEEDING_EVENT_TYPES = frozenset(
    {
        "InvestigationOpened",
        "VictimsLinked",
        "PersonsImputed",
        "AccusationFiled",
        "SentenceHandedDown",
        "ProceedingArchived",
    }
)


class ProceedingEvent(_Frozen):
    """One recorded decision about one proceeding (the case `Event`'s envelope)."""

    event_id: UUID
    proceeding_id: UUID
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    data: ProceedingEventData

    @property
    def type(self) -> str:
        return self.data.type

    def data_json(self) -> dict[str, Any]:
        """The payload as stored: JSON-ready, without the `type` (it has its own column)."""
        return self.data.model_dump(mode="json", exclude={"type"})

    @classmethod
    def from_stored(
        cls,
        *,
        event_id: UUID,
        proceeding_id: UUID,
        version: int,
        type: str,
        data: dict[str, Any],
        occurred_at: datetime,
        recorded_at: datetime,
        actor: str,
    ) -> ProceedingEvent:
        return cls(
            event_id=event_id,
            proceeding_id=proceeding_id,
            version=version,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            actor=actor,
            data=_DATA_ADAPTER.validate_python({**data, "type": type}),
        )


# ---------------------------------------------------------------- state


class ProceedingState(_Frozen):
    """A proceeding as its events leave it; `proceeding_id` None: none opened here."""

    proceeding_id: UUID | None = None
    version: int = 0
    crime_type: CrimeType | None = None
    stage: ProceedingStage | None = None
    reference: str | None = None
    case_ids: tuple[UUID, ...] = ()
    imputed: int = 0
    opened_at: datetime | None = None
    prosecuted_at: datetime | None = None
    ended_at: datetime | None = None  # sentenced or archived
    verdict: Verdict | None = None
    convicted: int = 0
    archive_reason: ArchiveReason | None = None
    last_event_at: datetime | None = None


def evolve_proceeding(state: ProceedingState, event: ProceedingEvent) -> ProceedingState:
    """The state after one event (events are facts: no rule is checked here)."""
    data, at = event.data, event.occurred_at
    change: dict[str, Any] = {"version": event.version, "last_event_at": at}
    match data:
        case InvestigationOpened():
            change |= {
                "proceeding_id": event.proceeding_id,
                "crime_type": data.crime_type,
                "stage": ProceedingStage.INVESTIGATION,
                "reference": data.reference,
                "case_ids": data.case_ids,
                "opened_at": at,
            }
        case VictimsLinked():
            change["case_ids"] = state.case_ids + data.case_ids
        case PersonsImputed():
            change["imputed"] = state.imputed + len(data.persons)
        case AccusationFiled():
            change |= {"stage": ProceedingStage.PROSECUTION, "prosecuted_at": at}
        case SentenceHandedDown():
            change |= {
                "stage": ProceedingStage.SENTENCED,
                "ended_at": at,
                "verdict": data.verdict,
                "convicted": data.convicted,
            }
        case ProceedingArchived():
            change |= {
                "stage": ProceedingStage.ARCHIVED,
                "ended_at": at,
                "archive_reason": data.reason,
            }
    return state.model_copy(update=change)


def evolve_proceeding_all(
    events: Iterable[ProceedingEvent], state: ProceedingState | None = None
) -> ProceedingState:
    for event in events:
        state = evolve_proceeding(state or ProceedingState(), event)
    return state or ProceedingState()


# ---------------------------------------------------------------- decide


def decide_proceeding(state: ProceedingState, command: ProceedingCommand) -> list[ProceedingEvent]:
    """The events `command` causes, or a `DomainError` with a stable code."""
    when = command.effective_at
    if when > command.at:
        raise errors.OccurredInFuture("occurred_at is later than now")
    if isinstance(command, OpenInvestigation):
        if state.stage is not None:
            raise errors.ProceedingAlreadyOpen("a proceeding with this id exists")
        proceeding_id = command.proceeding_id
        data: Any = InvestigationOpened(
            crime_type=command.crime_type,
            case_ids=tuple(dict.fromkeys(command.case_ids)),
            reference=command.reference,
        )
    else:
        data = _decide_on_open(state, command, when)
        assert state.proceeding_id is not None
        proceeding_id = state.proceeding_id
    return [
        ProceedingEvent(
            event_id=event_id(command.command_id, 0, command.at),
            proceeding_id=proceeding_id,
            version=state.version + 1,
            occurred_at=when,
            recorded_at=command.at,
            actor=command.actor,
            data=data,
        )
    ]


def _decide_on_open(state: ProceedingState, command: ProceedingCommand, when: datetime) -> Any:
    if state.stage is None or state.opened_at is None:
        raise errors.ProceedingNotFound("no proceeding has been opened here")
    if state.stage.final:
        raise errors.ProceedingFinal(f"the proceeding is already {state.stage}")
    if when < state.opened_at:
        raise errors.OccurredBeforeOpening("occurred_at is before the investigation opened")
    match command:
        case LinkVictims():
            new = tuple(c for c in dict.fromkeys(command.case_ids) if c not in state.case_ids)
            if not new:
                raise errors.VictimsAlreadyLinked("every case named is linked already")
            return VictimsLinked(case_ids=new)
        case ImputePersons():
            return PersonsImputed(persons=command.persons)
        case FileAccusation():
            if state.stage is ProceedingStage.PROSECUTION:
                raise errors.AlreadyProsecuted("the accusation is filed already")
            if state.imputed == 0:
                raise errors.NobodyImputed("an accusation needs at least one imputed person")
            return AccusationFiled()
        case HandDownSentence():
            return _sentence(state, command, when)
        case ArchiveProceeding():
            return ProceedingArchived(reason=command.reason)
    raise AssertionError(f"unknown command {command!r}")


def _sentence(state: ProceedingState, command: HandDownSentence, when: datetime) -> Any:
    if state.stage is not ProceedingStage.PROSECUTION or state.prosecuted_at is None:
        raise errors.NotProsecuted("a sentence follows the accusation")
    if when < state.prosecuted_at:
        raise errors.OccurredBeforeAccusation("occurred_at is before the accusation")
    if command.verdict is Verdict.CONDEMNATORY and command.convicted < 1:
        raise errors.ConvictedRequired("a condemnatory sentence convicts at least one person")
    if command.verdict is Verdict.ACQUITTAL and command.convicted != 0:
        raise errors.AcquittalConvictsNobody("an acquittal convicts nobody")
    if command.convicted > state.imputed:
        raise errors.ConvictedExceedsImputed(
            f"{command.convicted} convicted, but {state.imputed} imputed"
        )
    return SentenceHandedDown(verdict=command.verdict, convicted=command.convicted)

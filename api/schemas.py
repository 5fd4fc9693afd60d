"""Request and response bodies, one per use (`CaseCreate`, `CasePublic`, …).

Input models forbid unknown fields and bound every text, so a bad request is a 422
naming the field before anything reaches a case.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from domain.person import (
    ExploitationType,
    LabourIndustry,
    MeansOfControl,
    Person,
    RecruiterRelation,
    Sex,
)
from domain.vocabulary import (
    CaseStatus,
    Channel,
    ClosureReason,
    ConsentScope,
    CrimeType,
    IdentificationOutcome,
    ReferralDecision,
    ReferralState,
    Step,
    StepAction,
    StepState,
    VisaKind,
    VisaState,
)

# No NUL in stored text: PostgreSQL cannot keep one in `text` or `jsonb`, so it would fail
# the case's append after the command was accepted (newlines and tabs are fine in notes).
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Name = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f]*$")]
Username = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z0-9._-]+$")]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_future(value: datetime | None) -> datetime | None:
    if value is not None and value > datetime.now(UTC):
        raise ValueError("cannot be in the future")
    return value


class PersonIn(_Input):
    given_name: Name
    family_name: Name
    sex: Sex
    birth_date: date | None = None
    nationality: Country
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(
        default_factory=list, max_length=10
    )

    @field_validator("birth_date")
    @classmethod
    def _born(cls, value: date | None) -> date | None:
        if value is not None and (value > date.today() or value.year < 1900):
            raise ValueError("must be a past date after 1900")
        return value


class CaseCreate(_Input):
    crime_type: CrimeType
    person: PersonIn
    exploitation_types: list[ExploitationType] = Field(default_factory=list, max_length=9)
    means_of_control: list[MeansOfControl] = Field(default_factory=list, max_length=16)
    recruiter_relation: RecruiterRelation | None = None
    labour_industry: LabourIndustry | None = None
    identified_by: Name | None = None
    location: Name | None = None
    assigned_to: Username | None = Field(
        default=None, description="caseworker (default: the caller)"
    )
    consent_assistance: bool = True
    consent_data_sharing: bool = False
    occurred_at: AwareDatetime | None = Field(
        default=None, description="when the person was identified, if recorded after the fact"
    )

    @field_validator("occurred_at")
    @classmethod
    def _past(cls, value: datetime | None) -> datetime | None:
        return _not_future(value)


class StepActionIn(_Input):
    action: StepAction
    institution: Name | None = None
    outcome: IdentificationOutcome | None = None
    reason: Text | None = None
    note: Text | None = None
    occurred_at: AwareDatetime | None = Field(
        default=None, description="when the work was done, if recorded after the fact"
    )
    consent_override: Text | None = Field(
        default=None,
        description="refer without the person's data-sharing consent: a supervisor's reason",
    )

    @field_validator("occurred_at")
    @classmethod
    def _past(cls, value: datetime | None) -> datetime | None:
        return _not_future(value)


class NoteIn(_Input):
    text: Text
    step: Step | None = None


class ConsentIn(_Input):
    scope: ConsentScope
    given: bool


class AssignmentIn(_Input):
    caseworker: Username


class ClosureIn(_Input):
    reason: ClosureReason
    note: Text | None = None


class ClosureDecisionIn(_Input):
    approved: bool
    note: Text | None = None


class AcknowledgeIn(_Input):
    note: Text


class StepPublic(BaseModel):
    step: Step
    state: StepState
    opened_at: datetime
    due_at: datetime
    overdue: bool
    escalated: bool
    acknowledged: bool
    institution: str | None
    referral_id: UUID | None = Field(default=None, description="the live referral, if referred")
    updated_at: datetime


class CasePublic(BaseModel):
    """A case as its caseworker and supervisor see it."""

    case_id: UUID
    version: int
    crime_type: CrimeType
    status: CaseStatus
    assigned_to: str | None
    institution: str | None
    opened_at: datetime
    closed_at: datetime | None
    closed_reason: str | None
    overdue: bool
    identification_outcome: IdentificationOutcome | None
    person: Person | None
    steps: list[StepPublic]


class CaseCreated(CasePublic):
    """The new case, and visible cases whose person looks like the same person."""

    possible_duplicates: list[UUID] = Field(default_factory=list)


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None


class EventPublic(BaseModel):
    event_id: UUID
    case_id: UUID
    version: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, object]


class Me(BaseModel):
    username: str
    role: str
    institution: str | None
    language: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - OAuth2's token type, not a secret
    expires_at: datetime


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


VisaNumber = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^\x00-\x1f]*$")]


def _plausible(value: date) -> date:
    # Bounded so that reminder and expiry times (days before and after) stay computable.
    if not date(1900, 1, 1) <= value <= date(2199, 12, 31):
        raise ValueError("must be between 1900-01-01 and 2199-12-31")
    return value


VisaDate = Annotated[date, AfterValidator(_plausible)]


class VisaCreate(_Input):
    kind: VisaKind
    number: VisaNumber
    issued_on: VisaDate
    expires_on: VisaDate = Field(description="the last day the visa is valid")


class VisaRenewalIn(_Input):
    expires_on: VisaDate = Field(description="the new last day of validity, later than now")
    number: VisaNumber | None = Field(default=None, description="if the renewal has a new one")


class VisaCancellationIn(_Input):
    reason: Text


class VisaPublic(BaseModel):
    """A visa or permit; `number` only for those who may read the person's data."""

    visa_id: UUID
    case_id: UUID
    kind: VisaKind
    state: VisaState
    number: str | None
    issued_on: date
    expires_on: date
    renewals: int
    last_reminder_days: int | None = Field(description="the latest reminder of this cycle")
    expired_at: datetime | None
    cancelled_reason: str | None
    registered_at: datetime
    updated_at: datetime
    assigned_to: str | None
    institution: str | None


class VisaPage(BaseModel):
    items: list[VisaPublic]
    next_cursor: str | None


class InstitutionPublic(BaseModel):
    """An institution of the registry, for referral forms (never its channel's details)."""

    id: str
    name: str
    steps: list[Step]
    channel: Channel


class ReferralAnswerIn(_Input):
    decision: ReferralDecision
    reference: Name | None = Field(default=None, description="the institution's file number")
    note: Text | None = Field(default=None, description="the reason, when declined")


class ReferralRevocationIn(_Input):
    reason: Text


class ReferralRedirectionIn(_Input):
    institution: Name
    reason: Text


class ReferralPublic(BaseModel):
    """A referral. `person`: what the institution may know of the person (its registry
    entry's `shares`), shown to the institution while the referral is live; `reason`
    (why declined, revoked or redirected) to the case's own readers and the institution."""

    referral_id: UUID
    case_id: UUID | None = Field(description="only for those who may see the case")
    step: Step
    institution: str
    state: ReferralState
    channel: Channel | None
    consent_overridden: bool
    referred_at: datetime
    delivered_at: datetime | None
    answered_at: datetime | None
    decision: ReferralDecision | None
    reference: str | None
    reason: str | None
    redirected_to: UUID | None
    due_at: datetime | None
    overdue: bool
    updated_at: datetime
    person: dict[str, object] | None


class ReferralPage(BaseModel):
    items: list[ReferralPublic]
    next_cursor: str | None


class ErasureIn(_Input):
    reason: Text = Field(description="why (it is kept readable: name no one in it)")


class Erasure(BaseModel):
    case_id: UUID
    erased_at: datetime

"""Domain events: every decision about a case, in the past tense, in an envelope.

The envelope (`Event`) carries what CONTRACT.md promises: `event_id`, `case_id`,
`version` (1, 2, … per case), `type`, `occurred_at` (when it happened, UTC), `actor`,
`data`; plus `recorded_at`, when Amparo decided it (differs from `occurred_at` for work
recorded after the fact and for deadlines noticed late).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from domain.person import AgeGroup, Person, VictimContext
from domain.personal import PersonalText
from domain.sla import SlaPolicy
from domain.visas import VisaPolicy
from domain.vocabulary import (
    Channel,
    ClosureReason,
    ConsentScope,
    CrimeType,
    IdentificationOutcome,
    ReferralDecision,
    Step,
    VisaKind,
)


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CaseOpened(_Data):
    type: Literal["CaseOpened"] = "CaseOpened"
    crime_type: CrimeType
    person: Person
    victim: VictimContext
    identified_by: str | None
    location: str | None
    sla: SlaPolicy
    # From the birth date, on the opening day: statistics keep it after an erasure.
    age_group: AgeGroup | None = None


class CaseAssigned(_Data):
    type: Literal["CaseAssigned"] = "CaseAssigned"
    caseworker: str
    institution: str | None
    previous: str | None


class ConsentGiven(_Data):
    type: Literal["ConsentGiven"] = "ConsentGiven"
    scope: ConsentScope


class ConsentWithdrawn(_Data):
    type: Literal["ConsentWithdrawn"] = "ConsentWithdrawn"
    scope: ConsentScope


class StepOpened(_Data):
    type: Literal["StepOpened"] = "StepOpened"
    step: Step
    due_at: AwareDatetime


class StepReferred(_Data):
    type: Literal["StepReferred"] = "StepReferred"
    step: Step
    institution: str
    referral_id: UUID
    consent_override: PersonalText | None = None  # no consent: the supervisor's reason


class StepStarted(_Data):
    type: Literal["StepStarted"] = "StepStarted"
    step: Step


class StepCompleted(_Data):
    type: Literal["StepCompleted"] = "StepCompleted"
    step: Step
    outcome: IdentificationOutcome | None = None


class StepNotNeeded(_Data):
    type: Literal["StepNotNeeded"] = "StepNotNeeded"
    step: Step
    reason: PersonalText


class StepDeclined(_Data):
    type: Literal["StepDeclined"] = "StepDeclined"
    step: Step
    reason: PersonalText


class StepOverdue(_Data):
    type: Literal["StepOverdue"] = "StepOverdue"
    step: Step
    due_at: AwareDatetime


class OverdueEscalated(_Data):
    """The second escalation, at twice the step's SLA."""

    type: Literal["OverdueEscalated"] = "OverdueEscalated"
    step: Step
    escalated_at: AwareDatetime


class OverdueAcknowledged(_Data):
    type: Literal["OverdueAcknowledged"] = "OverdueAcknowledged"
    step: Step
    note: PersonalText


class NoteAdded(_Data):
    type: Literal["NoteAdded"] = "NoteAdded"
    text: PersonalText
    step: Step | None = None


class ClosureRequested(_Data):
    type: Literal["ClosureRequested"] = "ClosureRequested"
    reason: ClosureReason
    note: PersonalText | None = None


class ClosureDecided(_Data):
    type: Literal["ClosureDecided"] = "ClosureDecided"
    approved: bool
    note: PersonalText | None = None


class CaseClosed(_Data):
    type: Literal["CaseClosed"] = "CaseClosed"
    reason: str


class VisaRegistered(_Data):
    type: Literal["VisaRegistered"] = "VisaRegistered"
    visa_id: UUID
    kind: VisaKind
    number: PersonalText
    issued_on: date
    expires_on: date
    policy: VisaPolicy


class VisaRenewed(_Data):
    type: Literal["VisaRenewed"] = "VisaRenewed"
    visa_id: UUID
    expires_on: date
    previous_expires_on: date
    number: PersonalText | None = None


class VisaReminderSent(_Data):
    """A reminder of a visa's expiry went out (`days` before it)."""

    type: Literal["VisaReminderSent"] = "VisaReminderSent"
    visa_id: UUID
    expires_on: date
    days: int
    to_supervisor: bool


class VisaExpired(_Data):
    type: Literal["VisaExpired"] = "VisaExpired"
    visa_id: UUID
    expires_on: date


class VisaCancelled(_Data):
    type: Literal["VisaCancelled"] = "VisaCancelled"
    visa_id: UUID
    reason: PersonalText


class ReferralDelivered(_Data):
    """The institution's channel took the referral (its webhook answered 2xx, the SMTP
    server accepted the message, or it is in the institution's inbox)."""

    type: Literal["ReferralDelivered"] = "ReferralDelivered"
    referral_id: UUID
    step: Step
    channel: Channel


class ReferralAnswered(_Data):
    type: Literal["ReferralAnswered"] = "ReferralAnswered"
    referral_id: UUID
    step: Step
    institution: str
    decision: ReferralDecision
    reference: str | None = None
    note: PersonalText | None = None


class ReferralRevoked(_Data):
    """Withdrawn from the institution: by a person (with a reason) or because the step
    ended, was referred again, or the case closed (a code as the reason)."""

    type: Literal["ReferralRevoked"] = "ReferralRevoked"
    referral_id: UUID
    step: Step
    reason: PersonalText


class ReferralRedirected(_Data):
    """Sent on to another institution: the step stays referred, under a new referral."""

    type: Literal["ReferralRedirected"] = "ReferralRedirected"
    referral_id: UUID
    step: Step
    institution: str
    new_referral_id: UUID
    reason: PersonalText


class PersonErased(_Data):
    """The person's data key is destroyed with this event: their sealed fields, in every
    event before it, read as erased from now on."""

    type: Literal["PersonErased"] = "PersonErased"
    reason: str


EventData = Annotated[
    CaseOpened
    | CaseAssigned
    | ConsentGiven
    | ConsentWithdrawn
    | StepOpened
    | StepReferred
    | StepStarted
    | StepCompleted
    | StepNotNeeded
    | StepDeclined
    | StepOverdue
    | OverdueEscalated
    | OverdueAcknowledged
    | NoteAdded
    | ClosureRequested
    | ClosureDecided
    | CaseClosed
    | VisaRegistered
    | VisaRenewed
    | VisaReminderSent
    | VisaExpired
    | VisaCancelled
    | ReferralDelivered
    | ReferralAnswered
    | ReferralRevoked
    | ReferralRedirected
    | PersonErased,
    Field(discriminator="type"),
]

# Events after which a referral must be delivered (a new one) or its delivery stopped.
REFERRAL_EVENTS = (StepReferred, ReferralRedirected, ReferralRevoked, ReferralAnswered)
VISA_EVENTS = (VisaRegistered, VisaRenewed, VisaReminderSent, VisaExpired, VisaCancelled)

_DATA_ADAPTER: TypeAdapter[EventData] = TypeAdapter(EventData)
EVENT_TYPES: frozenset[str] = frozenset(
    cls.model_fields["type"].default for cls in _Data.__subclasses__()
)


class Event(BaseModel):
    """One recorded decision about one case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    case_id: UUID
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: str
    data: EventData

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
        case_id: UUID,
        version: int,
        type: str,
        data: dict[str, Any],
        occurred_at: datetime,
        recorded_at: datetime,
        actor: str,
    ) -> Event:
        """Rebuild an event from its stored columns."""
        payload = _DATA_ADAPTER.validate_python({**data, "type": type})
        return cls(
            event_id=event_id,
            case_id=case_id,
            version=version,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            actor=actor,
            data=payload,
        )

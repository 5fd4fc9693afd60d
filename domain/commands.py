"""Commands: what people (and the case's own timers) ask of a case, in the imperative.

Every command carries `command_id` (the idempotency key; event ids derive from it),
`actor`, and `at` (the moment it is decided, set by the workflow from its clock).
`occurred_at` lets work be recorded after the fact; it defaults to `at`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.person import Person, VictimContext
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
    StepAction,
    VisaKind,
)

ShortText = Annotated[str, Field(max_length=2000)]
Name = Annotated[str, Field(min_length=1, max_length=120)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    command_id: UUID
    actor: Name
    at: AwareDatetime
    occurred_at: AwareDatetime | None = None

    @property
    def effective_at(self) -> datetime:
        """When the work happened: `occurred_at` if recorded after the fact, else `at`."""
        return self.occurred_at or self.at


class Consent(BaseModel):
    """The consents given when the case opens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    assistance: bool = False
    data_sharing: bool = False


class OpenCase(_Command):
    kind: Literal["open_case"] = "open_case"
    case_id: UUID
    crime_type: CrimeType
    person: Person
    victim: VictimContext = VictimContext()
    identified_by: Name | None = None
    location: Name | None = None
    assigned_to: Name
    institution: Name | None = None
    consent: Consent = Consent()
    sla: SlaPolicy = SlaPolicy()


class AssignCase(_Command):
    kind: Literal["assign_case"] = "assign_case"
    caseworker: Name
    institution: Name | None = None


class AdvanceStep(_Command):
    """A caseworker's action on one step (refer, start, complete, not_needed, decline)."""

    kind: Literal["advance_step"] = "advance_step"
    step: Step
    action: StepAction
    institution: Name | None = None
    outcome: IdentificationOutcome | None = None
    reason: ShortText | None = None
    note: ShortText | None = None
    # A referral without the person's data-sharing consent: a supervisor's recorded reason.
    consent_override: ShortText | None = None
    # The referred institution's channel, as the registry says (`inbox`: delivered at once).
    channel: Channel | None = None


class AddNote(_Command):
    kind: Literal["add_note"] = "add_note"
    text: ShortText
    step: Step | None = None


class GiveConsent(_Command):
    kind: Literal["give_consent"] = "give_consent"
    scope: ConsentScope


class WithdrawConsent(_Command):
    kind: Literal["withdraw_consent"] = "withdraw_consent"
    scope: ConsentScope


class RequestClosure(_Command):
    kind: Literal["request_closure"] = "request_closure"
    reason: ClosureReason
    note: ShortText | None = None


class DecideClosure(_Command):
    kind: Literal["decide_closure"] = "decide_closure"
    approved: bool
    note: ShortText | None = None


class AcknowledgeOverdue(_Command):
    kind: Literal["acknowledge_overdue"] = "acknowledge_overdue"
    step: Step
    note: ShortText


class RecordOverdue(_Command):
    """Issued by the case's SLA timer when a step passes its due date."""

    kind: Literal["record_overdue"] = "record_overdue"
    step: Step


class EscalateOverdue(_Command):
    """Issued by the case's SLA timer at twice the step's SLA."""

    kind: Literal["escalate_overdue"] = "escalate_overdue"
    step: Step


VisaNumber = Annotated[str, Field(min_length=1, max_length=40)]
# Dates a visa may carry: far enough either way, and never so far that its timers overflow.
VisaDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]


class RegisterVisa(_Command):
    """A visa or permit the person holds, to be reminded of before it expires."""

    kind: Literal["register_visa"] = "register_visa"
    visa_kind: VisaKind
    number: VisaNumber
    issued_on: VisaDate
    expires_on: VisaDate
    policy: VisaPolicy = VisaPolicy()


class RenewVisa(_Command):
    kind: Literal["renew_visa"] = "renew_visa"
    visa_id: UUID
    expires_on: VisaDate
    number: VisaNumber | None = None


class CancelVisa(_Command):
    """The visa no longer needs following: the person returned, or it was revoked."""

    kind: Literal["cancel_visa"] = "cancel_visa"
    visa_id: UUID
    reason: ShortText


class RecordVisaReminder(_Command):
    """Issued by the visa's renewal workflow when a reminder falls due."""

    kind: Literal["record_visa_reminder"] = "record_visa_reminder"
    visa_id: UUID
    expires_on: date
    days: int = Field(ge=1)


class RecordVisaExpiry(_Command):
    """Issued by the visa's renewal workflow when the visa lapses unrenewed."""

    kind: Literal["record_visa_expiry"] = "record_visa_expiry"
    visa_id: UUID
    expires_on: date


class AnswerReferral(_Command):
    """An institution's answer to a referral sent to it (`institution`: who answers)."""

    kind: Literal["answer_referral"] = "answer_referral"
    referral_id: UUID
    institution: Name
    decision: ReferralDecision
    reference: Name | None = None  # the institution's own file number
    note: ShortText | None = None  # the reason, when declined


class RevokeReferral(_Command):
    kind: Literal["revoke_referral"] = "revoke_referral"
    referral_id: UUID
    reason: ShortText


class RedirectReferral(_Command):
    """Send a referral that is not final to another institution instead."""

    kind: Literal["redirect_referral"] = "redirect_referral"
    referral_id: UUID
    institution: Name
    reason: ShortText
    channel: Channel | None = None  # the new institution's, as for a referral


class RecordReferralDelivered(_Command):
    """Issued by the case workflow once the institution's channel took the referral."""

    kind: Literal["record_referral_delivered"] = "record_referral_delivered"
    referral_id: UUID
    channel: Channel


class ErasePerson(_Command):
    """Destroy the person's data: their personal fields become unreadable everywhere, the
    case's path (steps, dates, codes) and the statistics stay. Give a reason that names
    no one (it is kept readable, for the record)."""

    kind: Literal["erase_person"] = "erase_person"
    reason: ShortText


Command = Annotated[
    OpenCase
    | AssignCase
    | AdvanceStep
    | AddNote
    | GiveConsent
    | WithdrawConsent
    | RequestClosure
    | DecideClosure
    | AcknowledgeOverdue
    | RecordOverdue
    | EscalateOverdue
    | RegisterVisa
    | RenewVisa
    | CancelVisa
    | RecordVisaReminder
    | RecordVisaExpiry
    | AnswerReferral
    | RevokeReferral
    | RedirectReferral
    | RecordReferralDelivered
    | ErasePerson,
    Field(discriminator="kind"),
]

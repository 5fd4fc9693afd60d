"""The stable names of the protection path: crime types, steps, states, actions, reasons."""

from __future__ import annotations

from enum import StrEnum


class CrimeType(StrEnum):
    TRAFFICKING = "trafficking"  # trata de personas
    SMUGGLING = "smuggling"  # tráfico ilícito de migrantes


class Step(StrEnum):
    """Steps in the order of the path (the national plan's protection axis)."""

    IDENTIFICATION = "identification"
    SHELTER = "shelter"
    HEALTH = "health"
    LEGAL = "legal"
    DOCUMENTATION = "documentation"
    RETURN_REINTEGRATION = "return_reintegration"


ASSISTANCE_STEPS: tuple[Step, ...] = (Step.SHELTER, Step.HEALTH, Step.LEGAL, Step.DOCUMENTATION)
PATH_ORDER: tuple[Step, ...] = tuple(Step)


class StepState(StrEnum):
    PENDING = "pending"
    REFERRED = "referred"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NOT_NEEDED = "not_needed"
    DECLINED = "declined"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({StepState.COMPLETED, StepState.NOT_NEEDED, StepState.DECLINED})


class StepAction(StrEnum):
    REFER = "refer"
    START = "start"
    COMPLETE = "complete"
    NOT_NEEDED = "not_needed"
    DECLINE = "decline"


class IdentificationOutcome(StrEnum):
    CONFIRMED_VICTIM = "confirmed_victim"
    SMUGGLED_PERSON = "smuggled_person"
    NOT_A_VICTIM = "not_a_victim"


class CaseStatus(StrEnum):
    NEW = "new"  # the workflow exists but no case was opened in it yet
    OPEN = "open"
    CLOSURE_REQUESTED = "closure_requested"
    CLOSED = "closed"


class ClosureReason(StrEnum):
    """Reasons a caseworker may give; the last three close even with open steps."""

    PATH_COMPLETED = "path_completed"
    TRANSFERRED = "transferred"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    DECEASED = "deceased"
    LOST_CONTACT = "lost_contact"


CLOSES_WITH_OPEN_STEPS = frozenset(
    {ClosureReason.CONSENT_WITHDRAWN, ClosureReason.DECEASED, ClosureReason.LOST_CONTACT}
)
NOT_A_VICTIM_CLOSURE = "not_a_victim"


class ConsentScope(StrEnum):
    """Consent is given separately for assistance and for sharing data with institutions."""

    ASSISTANCE = "assistance"
    DATA_SHARING = "data_sharing"


SYSTEM_ACTOR = "system"


class VisaKind(StrEnum):
    """Visas and permits a survivor who stays may hold (CONTRACT.md)."""

    WORK = "work"
    RESIDENCE = "residence"
    TEMPORARY_RESIDENCE = "temporary_residence"
    HUMANITARIAN = "humanitarian"


class VisaState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"  # lapsed without renewal: stuck until renewed or cancelled
    CANCELLED = "cancelled"  # final: the person left, died, or the visa was revoked


class ReferralState(StrEnum):
    """Where a referral to an institution stands; the last four are final."""

    SENT = "sent"  # decided; its delivery over the institution's channel may still be retrying
    DELIVERED = "delivered"  # the institution's channel took it
    ACCEPTED = "accepted"  # the institution works on the step
    COMPLETED = "completed"
    DECLINED = "declined"  # the institution will not take it: the step is pending again
    REVOKED = "revoked"  # withdrawn by Amparo (the caseworker, a closure, the step's end)
    REDIRECTED = "redirected"  # sent on to another institution as a new referral

    @property
    def final(self) -> bool:
        return self in FINAL_REFERRAL_STATES


FINAL_REFERRAL_STATES = frozenset(
    {
        ReferralState.COMPLETED,
        ReferralState.DECLINED,
        ReferralState.REVOKED,
        ReferralState.REDIRECTED,
    }
)


class ReferralDecision(StrEnum):
    """An institution's answer to a referral."""

    ACCEPTED = "accepted"  # step in_progress
    DECLINED = "declined"  # step back to pending, with the reason
    COMPLETED = "completed"  # step completed


class Channel(StrEnum):
    """How a referral reaches an institution."""

    WEBHOOK = "webhook"  # signed JSON POST to the institution's system
    EMAIL = "email"  # a message over SMTP
    INBOX = "inbox"  # its users read and answer it inside Amparo

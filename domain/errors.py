"""Domain refusals: one base class, each with a stable `code` every interface can translate."""

from __future__ import annotations


class DomainError(Exception):
    """A command the path's rules refuse; it records nothing."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CaseNotFound(DomainError):
    """No case was opened here."""

    code = "case_not_found"


class CaseAlreadyOpen(DomainError):
    """The case exists already."""

    code = "case_already_open"


class CaseClosed(DomainError):
    """A closed case accepts nothing."""

    code = "case_closed"


class StepNotOpen(DomainError):
    """The step has not opened yet."""

    code = "step_not_open"


class StepFinal(DomainError):
    """The step is completed, not needed or declined."""

    code = "step_final"


class InvalidTransition(DomainError):
    """The action is not allowed from the step's state."""

    code = "invalid_transition"


class OutcomeRequired(DomainError):
    """Completing identification needs an outcome."""

    code = "outcome_required"


class OutcomeNotAllowed(DomainError):
    """Only identification has an outcome."""

    code = "outcome_not_allowed"


class ReasonRequired(DomainError):
    """The action needs a reason."""

    code = "reason_required"


class InstitutionRequired(DomainError):
    """A referral names an institution."""

    code = "institution_required"


class ConsentRequired(DomainError):
    """The person has not given the needed consent."""

    code = "consent_required"


class ConsentAlreadyGiven(DomainError):
    """That consent is already recorded."""

    code = "consent_already_given"


class ConsentNotGiven(DomainError):
    """There is no consent to withdraw."""

    code = "consent_not_given"


class AlreadyAssigned(DomainError):
    """The case is already assigned to that caseworker."""

    code = "already_assigned"


class ClosurePending(DomainError):
    """A closure request already awaits a decision."""

    code = "closure_pending"


class ClosureBlocked(DomainError):
    """Open steps must be final before this closure."""

    code = "closure_blocked"


class NoClosureRequested(DomainError):
    """There is no closure request to decide."""

    code = "no_closure_requested"


class StepNotOverdue(DomainError):
    """The step is not overdue."""

    code = "step_not_overdue"


class AlreadyAcknowledged(DomainError):
    """The overdue step is already acknowledged."""

    code = "already_acknowledged"


class NotDueYet(DomainError):
    """The deadline has not passed."""

    code = "not_due_yet"


class AlreadyEscalated(DomainError):
    """The step is escalated already."""

    code = "already_escalated"


class OccurredInFuture(DomainError):
    """Work cannot be recorded as done in the future."""

    code = "occurred_in_future"


class OccurredBeforeOpening(DomainError):
    """The time is before the case or step opened."""

    code = "occurred_before_opening"


class EmptyText(DomainError):
    """The text is empty."""

    code = "empty_text"


class VisaNotFound(DomainError):
    """The case holds no visa with this id."""

    code = "visa_not_found"


class VisaExpiryBeforeIssue(DomainError):
    """A visa expires after it is issued."""

    code = "visa_expiry_before_issue"


class VisaIssuedInFuture(DomainError):
    """A visa is registered once issued."""

    code = "visa_issued_in_future"


class VisaAlreadyExpired(DomainError):
    """The expiry date has passed: there is nothing left to remind of."""

    code = "visa_already_expired"


class VisaCancelled(DomainError):
    """A cancelled visa is final: it is neither renewed nor reminded of."""

    code = "visa_cancelled"


class VisaRenewalNotLater(DomainError):
    """A renewal extends the visa: its new expiry is later than the current one."""

    code = "visa_renewal_not_later"


class VisaAlertStale(DomainError):
    """A timer's reminder or expiry that no longer applies (renewed, sent, cancelled)."""

    code = "visa_alert_stale"


class InstitutionUnknown(DomainError):
    """The referral names an institution the registry does not hold."""

    code = "institution_unknown"


class InstitutionNotServingStep(DomainError):
    """The institution does not serve the referred step."""

    code = "institution_not_serving_step"


class ReferralNotFound(DomainError):
    """No such referral in this case (or not one addressed to this institution)."""

    code = "referral_not_found"


class ReferralFinal(DomainError):
    """The referral is completed, declined, revoked or redirected: it takes no more."""

    code = "referral_final"


class ReferralAlreadyAccepted(DomainError):
    """The institution has accepted this referral already."""

    code = "referral_already_accepted"


class ReferralAlreadyDelivered(DomainError):
    """Its delivery is recorded already (a repeated delivery report)."""

    code = "referral_already_delivered"


class PersonAlreadyErased(DomainError):
    """The person's data is erased already."""

    code = "person_erased"


class CaseNotClosed(DomainError):
    """The case must be closed first."""

    code = "case_not_closed"


class ProceedingNotFound(DomainError):
    """No proceeding was opened here."""

    code = "proceeding_not_found"


class ProceedingAlreadyOpen(DomainError):
    """A proceeding with this id exists already."""

    code = "proceeding_already_open"


class ProceedingFinal(DomainError):
    """A sentenced or archived proceeding accepts nothing."""

    code = "proceeding_final"


class VictimsAlreadyLinked(DomainError):
    """Every case named concerns the proceeding already."""

    code = "victims_already_linked"


class AlreadyProsecuted(DomainError):
    """The accusation is filed already."""

    code = "already_prosecuted"


class NobodyImputed(DomainError):
    """An accusation needs at least one imputed person."""

    code = "nobody_imputed"


class NotProsecuted(DomainError):
    """A sentence needs the accusation first."""

    code = "not_prosecuted"


class OccurredBeforeAccusation(DomainError):
    """The sentence's time is before the accusation."""

    code = "occurred_before_accusation"


class ConvictedRequired(DomainError):
    """A condemnatory sentence convicts at least one person."""

    code = "convicted_required"


class AcquittalConvictsNobody(DomainError):
    """An acquittal has no convicted persons."""

    code = "acquittal_convicts_nobody"


class ConvictedExceedsImputed(DomainError):
    """More convicted than imputed persons."""

    code = "convicted_exceeds_imputed"

"""`decide(state, command) -> list[Event]`: the rules of the protection path.

Pure: no I/O, no clock (time comes in on the command), no randomness (ids derive from
the command id). A refusal raises a `DomainError` and decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain import commands as cmd
from domain import errors
from domain import events as ev
from domain.ids import derived_id, event_id
from domain.person import age_group
from domain.referrals import ReferralStatus
from domain.state import CaseState, StepStatus
from domain.visas import VisaStatus, alert_at, lapses_at
from domain.vocabulary import (
    ASSISTANCE_STEPS,
    CLOSES_WITH_OPEN_STEPS,
    NOT_A_VICTIM_CLOSURE,
    CaseStatus,
    Channel,
    ClosureReason,
    ConsentScope,
    IdentificationOutcome,
    ReferralDecision,
    ReferralState,
    Step,
    StepAction,
    StepState,
    VisaState,
)

Draft = tuple[Any, datetime]  # an event's data and when it occurred
_Decider = Callable[[CaseState, Any], list[Draft]]
_DECIDERS: dict[str, _Decider] = {}

ALLOWED_FROM: dict[StepAction, frozenset[StepState]] = {
    StepAction.REFER: frozenset({StepState.PENDING, StepState.IN_PROGRESS}),
    StepAction.START: frozenset({StepState.PENDING, StepState.REFERRED}),
    StepAction.COMPLETE: frozenset({StepState.PENDING, StepState.REFERRED, StepState.IN_PROGRESS}),
    StepAction.NOT_NEEDED: frozenset(
        {StepState.PENDING, StepState.REFERRED, StepState.IN_PROGRESS}
    ),
    StepAction.DECLINE: frozenset({StepState.PENDING, StepState.REFERRED, StepState.IN_PROGRESS}),
}


def _handles(kind: type[Any]) -> Callable[[_Decider], _Decider]:
    def register(fn: _Decider) -> _Decider:
        _DECIDERS[kind.model_fields["kind"].default] = fn
        return fn

    return register


def decide(state: CaseState, command: cmd.Command) -> list[ev.Event]:
    """The events `command` causes in `state`, or a `DomainError` if the rules refuse it."""
    _check_case(state, command)
    _check_time(state, command)
    drafts = _DECIDERS[command.kind](state, command)
    case_id = command.case_id if isinstance(command, cmd.OpenCase) else state.case_id
    assert case_id is not None
    return [
        ev.Event(
            event_id=event_id(command.command_id, index, command.at),
            case_id=case_id,
            version=state.version + index + 1,
            occurred_at=occurred,
            recorded_at=command.at,
            actor=command.actor,
            data=data,
        )
        for index, (data, occurred) in enumerate(drafts)
    ]


def _check_case(state: CaseState, command: cmd.Command) -> None:
    if isinstance(command, cmd.OpenCase):
        if state.status is not CaseStatus.NEW:
            raise errors.CaseAlreadyOpen("this case is already open")
    elif state.status is CaseStatus.NEW:
        raise errors.CaseNotFound("no case has been opened here")
    elif (
        state.status is CaseStatus.CLOSED
        and not (isinstance(command, VISA_AFTER_CLOSURE) and state.follows_visas)
        and not isinstance(command, cmd.ErasePerson)  # erasure comes after closure, mostly
    ):
        raise errors.CaseClosed("the case is closed and accepts no more changes")


def _check_time(state: CaseState, command: cmd.Command) -> None:
    when = command.effective_at
    if when > command.at:
        raise errors.OccurredInFuture("occurred_at is later than now")
    if state.opened_at is not None and when < state.opened_at:
        raise errors.OccurredBeforeOpening("occurred_at is before the case was opened")


def _step_open(state: CaseState, step: Step) -> StepStatus:
    status = state.steps.get(step)
    if status is None:
        raise errors.StepNotOpen(f"step {step} has not opened in this case")
    if status.final:
        raise errors.StepFinal(f"step {step} is already {status.state}")
    return status


@_handles(cmd.OpenCase)
def _open_case(state: CaseState, c: cmd.OpenCase) -> list[Draft]:
    at = c.effective_at
    drafts: list[Draft] = [
        (
            ev.CaseOpened(
                crime_type=c.crime_type,
                person=c.person,
                victim=c.victim,
                identified_by=c.identified_by,
                location=c.location,
                sla=c.sla,
                age_group=age_group(c.person.birth_date, at.date()),
            ),
            at,
        ),
        (ev.CaseAssigned(caseworker=c.assigned_to, institution=c.institution, previous=None), at),
    ]
    drafts += [(ev.ConsentGiven(scope=s), at) for s in ConsentScope if getattr(c.consent, s.value)]
    due = at + c.sla.limit(Step.IDENTIFICATION)
    drafts.append((ev.StepOpened(step=Step.IDENTIFICATION, due_at=due), at))
    return drafts


@_handles(cmd.AssignCase)
def _assign(state: CaseState, c: cmd.AssignCase) -> list[Draft]:
    if c.caseworker == state.assigned_to:
        raise errors.AlreadyAssigned(f"the case is already assigned to {c.caseworker}")
    data = ev.CaseAssigned(
        caseworker=c.caseworker,
        institution=c.institution or state.institution,
        previous=state.assigned_to,
    )
    return [(data, c.effective_at)]


@_handles(cmd.AdvanceStep)
def _advance(state: CaseState, c: cmd.AdvanceStep) -> list[Draft]:
    status = _step_open(state, c.step)
    if status.state not in ALLOWED_FROM[c.action]:
        raise errors.InvalidTransition(
            f"cannot {c.action} step {c.step} while it is {status.state}"
        )
    if c.effective_at < status.opened_at:
        raise errors.OccurredBeforeOpening("occurred_at is before the step opened")
    main = _STEP_ACTIONS[c.action](state, c)
    drafts = _withdraw_referral(state, c, status)
    drafts.append((main, c.effective_at))
    if isinstance(main, ev.StepReferred):
        drafts += _in_inbox(main.referral_id, c.step, c.channel, c.effective_at)
    drafts += _consequences(state, c, main)
    if c.note and c.note.strip():
        drafts.append((ev.NoteAdded(text=c.note, step=c.step), c.effective_at))
    return drafts


def _need_consent(state: CaseState, step: Step, scope: ConsentScope) -> None:
    if not state.has_consent(scope):
        raise errors.ConsentRequired(f"{step} needs the person's {scope} consent")


def _refer(state: CaseState, c: cmd.AdvanceStep) -> Any:
    if not c.institution or not c.institution.strip():
        raise errors.InstitutionRequired("a referral names the institution it goes to")
    override = c.consent_override.strip() if c.consent_override else None
    if not override:
        _need_consent(state, c.step, ConsentScope.DATA_SHARING)
    referral_id = derived_id(c.command_id, "referral")
    return ev.StepReferred(
        step=c.step,
        institution=c.institution,
        referral_id=referral_id,
        consent_override=None if state.has_consent(ConsentScope.DATA_SHARING) else override,
    )


def _start(state: CaseState, c: cmd.AdvanceStep) -> Any:
    if c.step in _NEEDS_ASSISTANCE_CONSENT:
        _need_consent(state, c.step, ConsentScope.ASSISTANCE)
    return ev.StepStarted(step=c.step)


def _complete(state: CaseState, c: cmd.AdvanceStep) -> Any:
    if c.step is Step.IDENTIFICATION and c.outcome is None:
        raise errors.OutcomeRequired("completing identification needs its outcome")
    if c.step is not Step.IDENTIFICATION and c.outcome is not None:
        raise errors.OutcomeNotAllowed("only identification has an outcome")
    if c.step in _NEEDS_ASSISTANCE_CONSENT:
        _need_consent(state, c.step, ConsentScope.ASSISTANCE)
    return ev.StepCompleted(step=c.step, outcome=c.outcome)


def _reason(c: cmd.AdvanceStep) -> str:
    if not c.reason or not c.reason.strip():
        raise errors.ReasonRequired(f"{c.action} needs a reason")
    return c.reason


def _not_needed(state: CaseState, c: cmd.AdvanceStep) -> Any:
    if c.step is Step.IDENTIFICATION:
        raise errors.InvalidTransition("identification is always needed; decline it instead")
    return ev.StepNotNeeded(step=c.step, reason=_reason(c))


def _decline(state: CaseState, c: cmd.AdvanceStep) -> Any:
    return ev.StepDeclined(step=c.step, reason=_reason(c))


_NEEDS_ASSISTANCE_CONSENT = frozenset({*ASSISTANCE_STEPS, Step.RETURN_REINTEGRATION})
_STEP_ACTIONS: dict[StepAction, Callable[[CaseState, cmd.AdvanceStep], Any]] = {
    StepAction.REFER: _refer,
    StepAction.START: _start,
    StepAction.COMPLETE: _complete,
    StepAction.NOT_NEEDED: _not_needed,
    StepAction.DECLINE: _decline,
}
_FINAL_EVENTS = (ev.StepCompleted, ev.StepNotNeeded, ev.StepDeclined)


# Why a live referral is withdrawn when the caseworker acts on its step themselves; a
# `start` leaves it live (the institution may still answer).
_WITHDRAWN_BY = {
    StepAction.REFER: "referred_again",
    StepAction.COMPLETE: "step_completed",
    StepAction.NOT_NEEDED: "step_not_needed",
    StepAction.DECLINE: "step_declined",
}


def _withdraw_referral(state: CaseState, c: cmd.AdvanceStep, status: StepStatus) -> list[Draft]:
    """The step's live referral revoked, when the caseworker's action supersedes it."""
    reason = _WITHDRAWN_BY.get(c.action)
    referral = state.referrals.get(status.referral_id) if status.referral_id else None
    if reason is None or referral is None or referral.final:
        return []
    revoked = ev.ReferralRevoked(referral_id=referral.referral_id, step=c.step, reason=reason)
    return [(revoked, c.effective_at)]


def _consequences(state: CaseState, c: cmd.AdvanceStep, event: Any) -> list[Draft]:
    """What a step's end opens next: the assistance steps, or return and reintegration."""
    at = c.effective_at
    if isinstance(event, ev.StepCompleted) and c.step is Step.IDENTIFICATION:
        if event.outcome is IdentificationOutcome.NOT_A_VICTIM:
            return [(ev.CaseClosed(reason=NOT_A_VICTIM_CLOSURE), at)]
        return [
            (ev.StepOpened(step=s, due_at=at + state.sla.limit(s)), at) for s in ASSISTANCE_STEPS
        ]
    if isinstance(event, _FINAL_EVENTS) and c.step is Step.DOCUMENTATION:
        step = Step.RETURN_REINTEGRATION
        return [(ev.StepOpened(step=step, due_at=at + state.sla.limit(step)), at)]
    return []


@_handles(cmd.AddNote)
def _add_note(state: CaseState, c: cmd.AddNote) -> list[Draft]:
    if not c.text.strip():
        raise errors.EmptyText("a note needs text")
    if c.step is not None and c.step not in state.steps:
        raise errors.StepNotOpen(f"step {c.step} has not opened in this case")
    return [(ev.NoteAdded(text=c.text, step=c.step), c.effective_at)]


@_handles(cmd.GiveConsent)
def _give_consent(state: CaseState, c: cmd.GiveConsent) -> list[Draft]:
    if state.has_consent(c.scope):
        raise errors.ConsentAlreadyGiven(f"{c.scope} consent is already recorded")
    return [(ev.ConsentGiven(scope=c.scope), c.effective_at)]


@_handles(cmd.WithdrawConsent)
def _withdraw_consent(state: CaseState, c: cmd.WithdrawConsent) -> list[Draft]:
    if not state.has_consent(c.scope):
        raise errors.ConsentNotGiven(f"there is no {c.scope} consent to withdraw")
    drafts: list[Draft] = [(ev.ConsentWithdrawn(scope=c.scope), c.effective_at)]
    if c.scope is ConsentScope.DATA_SHARING:  # referrals that rest on it are withdrawn too
        drafts += _revoke_live(state, "consent_withdrawn", c.effective_at, overridden=False)
    return drafts


def _revoke_live(state: CaseState, reason: str, at: datetime, *, overridden: bool) -> list[Draft]:
    """Every live referral revoked (`overridden`: also those sent on a supervisor's override)."""
    return [
        (ev.ReferralRevoked(referral_id=r.referral_id, step=r.step, reason=reason), at)
        for r in state.referrals.values()
        if not r.final and (overridden or r.consent_override is None)
    ]


def _closure_blocked(state: CaseState, reason: Any) -> None:
    open_steps = state.open_steps()
    if open_steps and reason not in CLOSES_WITH_OPEN_STEPS:
        names = ", ".join(s.step.value for s in open_steps)
        raise errors.ClosureBlocked(f"steps still open: {names}")


@_handles(cmd.RequestClosure)
def _request_closure(state: CaseState, c: cmd.RequestClosure) -> list[Draft]:
    if state.status is CaseStatus.CLOSURE_REQUESTED:
        raise errors.ClosurePending("a closure request already awaits a decision")
    _closure_blocked(state, c.reason)
    return [(ev.ClosureRequested(reason=c.reason, note=c.note), c.effective_at)]


@_handles(cmd.DecideClosure)
def _decide_closure(state: CaseState, c: cmd.DecideClosure) -> list[Draft]:
    if state.closure is None:
        raise errors.NoClosureRequested("there is no closure request to decide")
    decided = (ev.ClosureDecided(approved=c.approved, note=c.note), c.effective_at)
    if not c.approved:
        return [decided]
    reason = state.closure.reason
    _closure_blocked(state, reason)
    drafts: list[Draft] = [decided]
    drafts += _revoke_live(state, "case_closed", c.effective_at, overridden=True)
    drafts.append((ev.CaseClosed(reason=reason.value), c.effective_at))
    if reason in CANCELS_VISAS:
        drafts += [
            (ev.VisaCancelled(visa_id=v.visa_id, reason=reason.value), c.effective_at)
            for v in state.visas.values()
            if v.live
        ]
    return drafts


@_handles(cmd.AcknowledgeOverdue)
def _acknowledge(state: CaseState, c: cmd.AcknowledgeOverdue) -> list[Draft]:
    status = _step_open(state, c.step)
    if not status.overdue:
        raise errors.StepNotOverdue(f"step {c.step} is not overdue")
    if status.acknowledged:
        raise errors.AlreadyAcknowledged(f"the overdue {c.step} step is already acknowledged")
    if not c.note.strip():
        raise errors.EmptyText("an acknowledgement needs a note")
    return [(ev.OverdueAcknowledged(step=c.step, note=c.note), c.effective_at)]


@_handles(cmd.RecordOverdue)
def _record_overdue(state: CaseState, c: cmd.RecordOverdue) -> list[Draft]:
    status = _step_open(state, c.step)
    if status.overdue:
        raise errors.StepNotOverdue(f"step {c.step} is already recorded as overdue")
    if c.at < status.due_at:
        raise errors.NotDueYet(f"step {c.step} is due at {status.due_at.isoformat()}")
    return [(ev.StepOverdue(step=c.step, due_at=status.due_at), status.due_at)]


@_handles(cmd.EscalateOverdue)
def _escalate(state: CaseState, c: cmd.EscalateOverdue) -> list[Draft]:
    status = _step_open(state, c.step)
    if not status.overdue:
        raise errors.StepNotOverdue(f"step {c.step} is not overdue")
    if status.escalated:
        raise errors.AlreadyEscalated(f"step {c.step} is already escalated")
    twice = status.escalates_at
    if c.at < twice:
        raise errors.NotDueYet(f"step {c.step} escalates at {twice.isoformat()}")
    return [(ev.OverdueEscalated(step=c.step, escalated_at=twice), twice)]


# --- visas and permits -------------------------------------------------------------------

# A closed case keeps following the visas of a person who stays: renewals, cancellations
# and the visa timers' reminders and expiry are still decided; nothing else is.
VISA_AFTER_CLOSURE = (
    cmd.RenewVisa,
    cmd.CancelVisa,
    cmd.RecordVisaReminder,
    cmd.RecordVisaExpiry,
)
# Closures after which no visa needs following.
CANCELS_VISAS = frozenset({ClosureReason.DECEASED})


def _visa(state: CaseState, visa_id: Any) -> VisaStatus:
    visa = state.visas.get(visa_id)
    if visa is None:
        raise errors.VisaNotFound(f"this case holds no visa {visa_id}")
    return visa


@_handles(cmd.RegisterVisa)
def _register_visa(state: CaseState, c: cmd.RegisterVisa) -> list[Draft]:
    if c.expires_on <= c.issued_on:
        raise errors.VisaExpiryBeforeIssue("expires_on must be after issued_on")
    if c.issued_on > c.at.date():
        raise errors.VisaIssuedInFuture("issued_on is later than today")
    if lapses_at(c.expires_on) <= c.at:
        raise errors.VisaAlreadyExpired("the visa has expired already")
    data = ev.VisaRegistered(
        visa_id=derived_id(c.command_id, "visa"),
        kind=c.visa_kind,
        number=c.number,
        issued_on=c.issued_on,
        expires_on=c.expires_on,
        policy=c.policy,
    )
    return [(data, c.effective_at)]


@_handles(cmd.RenewVisa)
def _renew_visa(state: CaseState, c: cmd.RenewVisa) -> list[Draft]:
    visa = _visa(state, c.visa_id)
    if visa.state is VisaState.CANCELLED:
        raise errors.VisaCancelled("a cancelled visa cannot be renewed")
    if c.expires_on <= visa.expires_on:
        raise errors.VisaRenewalNotLater(
            f"the new expiry must be later than {visa.expires_on.isoformat()}"
        )
    if lapses_at(c.expires_on) <= c.at:
        raise errors.VisaAlreadyExpired("the new expiry date has passed already")
    data = ev.VisaRenewed(
        visa_id=visa.visa_id,
        expires_on=c.expires_on,
        previous_expires_on=visa.expires_on,
        number=c.number,
    )
    return [(data, c.effective_at)]


@_handles(cmd.CancelVisa)
def _cancel_visa(state: CaseState, c: cmd.CancelVisa) -> list[Draft]:
    visa = _visa(state, c.visa_id)
    if visa.state is VisaState.CANCELLED:
        raise errors.VisaCancelled("the visa is cancelled already")
    if not c.reason.strip():
        raise errors.ReasonRequired("a cancellation needs a reason")
    return [(ev.VisaCancelled(visa_id=visa.visa_id, reason=c.reason), c.effective_at)]


def _current_cycle(state: CaseState, visa_id: Any, expires_on: Any) -> VisaStatus:
    """The visa an alert is about, if the alert still applies to it."""
    visa = _visa(state, visa_id)
    if visa.state is not VisaState.ACTIVE or visa.expires_on != expires_on:
        raise errors.VisaAlertStale("the visa was renewed, cancelled or has expired since")
    return visa


@_handles(cmd.RecordVisaReminder)
def _visa_reminder(state: CaseState, c: cmd.RecordVisaReminder) -> list[Draft]:
    visa = _current_cycle(state, c.visa_id, c.expires_on)
    catch_up = c.days not in visa.policy.reminder_days
    if catch_up and visa.reminders_sent:  # only a cycle's first reminder may catch up
        raise errors.VisaAlertStale(f"no reminder falls {c.days} days before expiry")
    if visa.reminders_sent and c.days >= min(visa.reminders_sent):
        raise errors.VisaAlertStale("this reminder, or a later one, was sent already")
    # A catch-up is due from the start of the day it counts from.
    due = (
        lapses_at(visa.expires_on) - timedelta(days=c.days + 1)
        if catch_up
        else alert_at(visa.expires_on, c.days, visa.policy)
    )
    if c.at < due:
        raise errors.NotDueYet(f"the reminder is due at {due.isoformat()}")
    data = ev.VisaReminderSent(
        visa_id=visa.visa_id,
        expires_on=visa.expires_on,
        days=c.days,
        to_supervisor=visa.policy.to_supervisor(c.days),
    )
    return [(data, c.at)]  # when it went out: on time, or at once when missed


@_handles(cmd.RecordVisaExpiry)
def _visa_expiry(state: CaseState, c: cmd.RecordVisaExpiry) -> list[Draft]:
    visa = _current_cycle(state, c.visa_id, c.expires_on)
    lapse = lapses_at(visa.expires_on)
    if c.at < lapse:
        raise errors.NotDueYet(f"the visa lapses at {lapse.isoformat()}")
    return [(ev.VisaExpired(visa_id=visa.visa_id, expires_on=visa.expires_on), lapse)]


# --- referrals to institutions -------------------------------------------------------------


def _live_referral(state: CaseState, referral_id: Any) -> ReferralStatus:
    referral = state.referrals.get(referral_id)
    if referral is None:
        raise errors.ReferralNotFound(f"this case holds no referral {referral_id}")
    if referral.final:
        raise errors.ReferralFinal(f"the referral is {referral.state} already")
    return referral


def _step_command(c: Any, step: Step, action: StepAction) -> cmd.AdvanceStep:
    """An institution's answer as the step action it amounts to, to decide it the same way."""
    return cmd.AdvanceStep(
        command_id=c.command_id,
        actor=c.actor,
        at=c.at,
        occurred_at=c.occurred_at,
        step=step,
        action=action,
    )


@_handles(cmd.AnswerReferral)
def _answer_referral(state: CaseState, c: cmd.AnswerReferral) -> list[Draft]:
    referral = state.referrals.get(c.referral_id)
    if referral is None or referral.institution != c.institution:  # never another's
        raise errors.ReferralNotFound(f"no referral {c.referral_id} for {c.institution}")
    referral = _live_referral(state, c.referral_id)
    decision = c.decision
    if decision is ReferralDecision.ACCEPTED and referral.state is ReferralState.ACCEPTED:
        raise errors.ReferralAlreadyAccepted("the referral is accepted already")
    if decision is ReferralDecision.DECLINED and not (c.note and c.note.strip()):
        raise errors.ReasonRequired("declining a referral needs the reason (note)")
    status = _step_open(state, referral.step)
    if c.effective_at < referral.referred_at:
        raise errors.OccurredBeforeOpening("occurred_at is before the referral was made")
    answered = ev.ReferralAnswered(
        referral_id=referral.referral_id,
        step=referral.step,
        institution=referral.institution,
        decision=decision,
        reference=c.reference,
        note=c.note,
    )
    drafts: list[Draft] = [(answered, c.effective_at)]
    if decision is ReferralDecision.ACCEPTED and status.state is not StepState.IN_PROGRESS:
        drafts.append(
            (_start(state, _step_command(c, referral.step, StepAction.START)), c.effective_at)
        )
    elif decision is ReferralDecision.COMPLETED:
        step_command = _step_command(c, referral.step, StepAction.COMPLETE)
        completed = _complete(state, step_command)
        drafts.append((completed, c.effective_at))
        drafts += _consequences(state, step_command, completed)
    return drafts


def _reason_given(reason: str, what: str) -> str:
    if not reason.strip():
        raise errors.ReasonRequired(f"{what} needs a reason")
    return reason


@_handles(cmd.RevokeReferral)
def _revoke_referral(state: CaseState, c: cmd.RevokeReferral) -> list[Draft]:
    referral = _live_referral(state, c.referral_id)
    reason = _reason_given(c.reason, "revoking a referral")
    data = ev.ReferralRevoked(referral_id=referral.referral_id, step=referral.step, reason=reason)
    return [(data, c.effective_at)]


@_handles(cmd.RedirectReferral)
def _redirect_referral(state: CaseState, c: cmd.RedirectReferral) -> list[Draft]:
    referral = _live_referral(state, c.referral_id)
    reason = _reason_given(c.reason, "redirecting a referral")
    if not c.institution.strip():
        raise errors.InstitutionRequired("a redirection names the institution it goes to")
    if c.institution == referral.institution:
        raise errors.InvalidTransition(f"the referral is with {c.institution} already")
    if referral.consent_override is None:
        _need_consent(state, referral.step, ConsentScope.DATA_SHARING)
    data = ev.ReferralRedirected(
        referral_id=referral.referral_id,
        step=referral.step,
        institution=c.institution,
        new_referral_id=derived_id(c.command_id, "referral"),
        reason=reason,
    )
    delivered = _in_inbox(data.new_referral_id, data.step, c.channel, c.effective_at)
    return [(data, c.effective_at), *delivered]


def _in_inbox(referral_id: Any, step: Step, channel: Channel | None, at: datetime) -> list[Draft]:
    """A referral to an inbox institution is delivered as it is made: its users read it in
    Amparo (other channels are delivered by the case workflow's activity, then recorded)."""
    if channel is not Channel.INBOX:
        return []
    return [(ev.ReferralDelivered(referral_id=referral_id, step=step, channel=channel), at)]


@_handles(cmd.RecordReferralDelivered)
def _referral_delivered(state: CaseState, c: cmd.RecordReferralDelivered) -> list[Draft]:
    referral = _live_referral(state, c.referral_id)
    if referral.delivered_at is not None:
        raise errors.ReferralAlreadyDelivered("the referral's delivery is recorded already")
    data = ev.ReferralDelivered(
        referral_id=referral.referral_id, step=referral.step, channel=c.channel
    )
    return [(data, c.at)]


# --- erasure --------------------------------------------------------------------------------


@_handles(cmd.ErasePerson)
def _erase_person(state: CaseState, c: cmd.ErasePerson) -> list[Draft]:
    """Only a closed case, and for good: its visas stop being followed, and it accepts
    nothing afterwards (nothing personal is ever recorded for the person again)."""
    if state.erased_at is not None:
        raise errors.PersonAlreadyErased("the person's data is erased already")
    if state.status is not CaseStatus.CLOSED:
        raise errors.CaseNotClosed("close the case first: an erasure ends it for good")
    reason = _reason_given(c.reason, "an erasure")
    drafts: list[Draft] = [
        (ev.VisaCancelled(visa_id=v.visa_id, reason="person_erased"), c.at)
        for v in state.visas.values()
        if v.live
    ]
    return [*drafts, (ev.PersonErased(reason=reason), c.at)]

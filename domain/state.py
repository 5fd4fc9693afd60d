"""The case state and `evolve`: the fold of a case's events, nothing else.

`evolve` never refuses: an event is a fact already decided. Everything a screen needs
about a case is derivable from this state, which is why projections fold it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain import events as ev
from domain.commands import Consent
from domain.person import Person, VictimContext
from domain.personal import ERASED, PersonalText
from domain.referrals import ReferralStatus
from domain.sla import SlaPolicy
from domain.visas import EXPIRY, VisaStatus
from domain.vocabulary import (
    SYSTEM_ACTOR,
    CaseStatus,
    ClosureReason,
    ConsentScope,
    CrimeType,
    IdentificationOutcome,
    ReferralDecision,
    ReferralState,
    Step,
    StepState,
    VisaState,
)


class StepStatus(BaseModel):
    """Where one step of the path stands."""

    model_config = ConfigDict(frozen=True)

    step: Step
    state: StepState = StepState.PENDING
    opened_at: datetime
    due_at: datetime
    updated_at: datetime
    overdue: bool = False
    overdue_since: datetime | None = None
    escalated: bool = False
    acknowledged: bool = False
    institution: str | None = None
    referral_id: UUID | None = None
    outcome: IdentificationOutcome | None = None
    reason: PersonalText | None = None

    @property
    def final(self) -> bool:
        return self.state.final

    @property
    def escalates_at(self) -> datetime:
        """The second escalation: twice the step's SLA after it opened."""
        return self.opened_at + 2 * (self.due_at - self.opened_at)


class ClosureRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: ClosureReason
    note: PersonalText | None
    requested_by: str
    requested_at: datetime


class CaseState(BaseModel):
    """Everything decided about one case so far."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID | None = None
    version: int = 0
    status: CaseStatus = CaseStatus.NEW
    crime_type: CrimeType | None = None
    person: Person | None = None
    victim: VictimContext = VictimContext()
    identified_by: str | None = None
    location: str | None = None
    assigned_to: str | None = None
    institution: str | None = None
    consent: Consent = Consent()
    sla: SlaPolicy = SlaPolicy()
    steps: dict[Step, StepStatus] = {}
    closure: ClosureRequest | None = None
    closed_reason: str | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    last_event_at: datetime | None = None
    # Wall-clock time of the last command a person gave (drives the backdating grace).
    last_recorded_at: datetime | None = None
    notes: int = 0
    visas: dict[UUID, VisaStatus] = {}
    referrals: dict[UUID, ReferralStatus] = {}
    erased_at: datetime | None = None  # the person's data was erased then

    @property
    def is_open(self) -> bool:
        return self.status in (CaseStatus.OPEN, CaseStatus.CLOSURE_REQUESTED)

    @property
    def follows_visas(self) -> bool:
        """A visa is still followed (active or expired): the case keeps its timers."""
        return any(v.live for v in self.visas.values())

    def open_steps(self) -> list[StepStatus]:
        """Steps opened and not yet final, in path order."""
        return [s for s in self.steps.values() if not s.final]

    def has_consent(self, scope: ConsentScope) -> bool:
        return bool(getattr(self.consent, scope.value))


# A handler returns the fields its event changes; `evolve` makes the one copy of the state
# (a copy per event rather than two: the fold is the hot path of projections and rebuilds).
_Changes = dict[str, Any]
_Handler = Callable[[CaseState, Any, ev.Event], _Changes]
_HANDLERS: dict[str, _Handler] = {}


def _on(event_type: type[BaseModel]) -> Callable[[_Handler], _Handler]:
    def register(fn: _Handler) -> _Handler:
        _HANDLERS[event_type.model_fields["type"].default] = fn
        return fn

    return register


def _step(case: CaseState, step: Step, when: datetime, **changes: Any) -> _Changes:
    current = case.steps[step].model_copy(update={"updated_at": when, **changes})
    return {"steps": {**case.steps, step: current}}


@_on(ev.CaseOpened)
def _opened(state: CaseState, data: ev.CaseOpened, event: ev.Event) -> _Changes:
    return {
        "case_id": event.case_id,
        "status": CaseStatus.OPEN,
        "crime_type": data.crime_type,
        "person": data.person,
        "victim": data.victim,
        "identified_by": data.identified_by,
        "location": data.location,
        "sla": data.sla,
        "opened_at": event.occurred_at,
    }


@_on(ev.CaseAssigned)
def _assigned(state: CaseState, data: ev.CaseAssigned, event: ev.Event) -> _Changes:
    return {"assigned_to": data.caseworker, "institution": data.institution}


@_on(ev.ConsentGiven)
def _consent_given(state: CaseState, data: ev.ConsentGiven, event: ev.Event) -> _Changes:
    return {"consent": state.consent.model_copy(update={data.scope.value: True})}


@_on(ev.ConsentWithdrawn)
def _consent_withdrawn(state: CaseState, data: ev.ConsentWithdrawn, event: ev.Event) -> _Changes:
    return {"consent": state.consent.model_copy(update={data.scope.value: False})}


@_on(ev.StepOpened)
def _step_opened(state: CaseState, data: ev.StepOpened, event: ev.Event) -> _Changes:
    status = StepStatus(
        step=data.step,
        opened_at=event.occurred_at,
        due_at=data.due_at,
        updated_at=event.occurred_at,
    )
    return {"steps": {**state.steps, data.step: status}}


def _sent(
    case: CaseState,
    referrals: dict[UUID, ReferralStatus],
    referral_id: UUID,
    step: Step,
    institution: str,
    when: datetime,
    override: str | None,
) -> _Changes:
    """A new referral of `step` to `institution`, the step referred and waiting on it."""
    new = ReferralStatus(
        referral_id=referral_id,
        step=step,
        institution=institution,
        referred_at=when,
        updated_at=when,
        consent_override=override,
    )
    waiting = _step(
        case, step, when, state=StepState.REFERRED, institution=institution, referral_id=referral_id
    )
    return {**waiting, "referrals": {**referrals, referral_id: new}}


@_on(ev.StepReferred)
def _referred(state: CaseState, data: ev.StepReferred, event: ev.Event) -> _Changes:
    return _sent(
        state,
        state.referrals,
        data.referral_id,
        data.step,
        data.institution,
        event.occurred_at,
        data.consent_override,
    )


def _referral(case: CaseState, referral_id: UUID, when: datetime, **changes: Any) -> _Changes:
    current = case.referrals[referral_id].model_copy(update={"updated_at": when, **changes})
    return {"referrals": {**case.referrals, referral_id: current}}


def _back_to_pending(case: CaseState, step: Step, referral_id: UUID, when: datetime) -> _Changes:
    """The step waits for the caseworker again, if it still waited on this referral."""
    status = case.steps[step]
    if status.final or status.referral_id != referral_id:
        return {}
    return _step(case, step, when, state=StepState.PENDING, institution=None, referral_id=None)


@_on(ev.ReferralDelivered)
def _referral_delivered(state: CaseState, data: ev.ReferralDelivered, event: ev.Event) -> _Changes:
    current = state.referrals[data.referral_id]
    moved = ReferralState.DELIVERED if current.state is ReferralState.SENT else current.state
    return _referral(
        state,
        data.referral_id,
        event.occurred_at,
        state=moved,
        channel=data.channel,
        delivered_at=event.occurred_at,
    )


_ANSWERED = {
    ReferralDecision.ACCEPTED: ReferralState.ACCEPTED,
    ReferralDecision.DECLINED: ReferralState.DECLINED,
    ReferralDecision.COMPLETED: ReferralState.COMPLETED,
}


@_on(ev.ReferralAnswered)
def _referral_answered(state: CaseState, data: ev.ReferralAnswered, event: ev.Event) -> _Changes:
    """The referral's answer; the step moves by the StepStarted/StepCompleted decided with
    it, or here, back to pending, when declined."""
    when = event.occurred_at
    changes = _referral(
        state,
        data.referral_id,
        when,
        state=_ANSWERED[data.decision],
        answered_at=when,
        decision=data.decision,
        reference=data.reference or state.referrals[data.referral_id].reference,
        reason=data.note if data.decision is ReferralDecision.DECLINED else None,
    )
    if data.decision is ReferralDecision.DECLINED:
        changes |= _back_to_pending(state, data.step, data.referral_id, when)
    return changes


@_on(ev.ReferralRevoked)
def _referral_revoked(state: CaseState, data: ev.ReferralRevoked, event: ev.Event) -> _Changes:
    when = event.occurred_at
    return {
        **_referral(state, data.referral_id, when, state=ReferralState.REVOKED, reason=data.reason),
        **_back_to_pending(state, data.step, data.referral_id, when),
    }


@_on(ev.ReferralRedirected)
def _referral_redirected(
    state: CaseState, data: ev.ReferralRedirected, event: ev.Event
) -> _Changes:
    when = event.occurred_at
    old = state.referrals[data.referral_id].model_copy(
        update={
            "state": ReferralState.REDIRECTED,
            "reason": data.reason,
            "redirected_to": data.new_referral_id,
            "updated_at": when,
        }
    )
    referrals = {**state.referrals, old.referral_id: old}
    return _sent(
        state,
        referrals,
        data.new_referral_id,
        data.step,
        data.institution,
        when,
        old.consent_override,
    )


@_on(ev.StepStarted)
def _started(state: CaseState, data: ev.StepStarted, event: ev.Event) -> _Changes:
    return _step(state, data.step, event.occurred_at, state=StepState.IN_PROGRESS)


@_on(ev.StepCompleted)
def _completed(state: CaseState, data: ev.StepCompleted, event: ev.Event) -> _Changes:
    return _step(
        state, data.step, event.occurred_at, state=StepState.COMPLETED, outcome=data.outcome
    )


@_on(ev.StepNotNeeded)
def _not_needed(state: CaseState, data: ev.StepNotNeeded, event: ev.Event) -> _Changes:
    return _step(
        state, data.step, event.occurred_at, state=StepState.NOT_NEEDED, reason=data.reason
    )


@_on(ev.StepDeclined)
def _declined(state: CaseState, data: ev.StepDeclined, event: ev.Event) -> _Changes:
    return _step(state, data.step, event.occurred_at, state=StepState.DECLINED, reason=data.reason)


@_on(ev.StepOverdue)
def _overdue(state: CaseState, data: ev.StepOverdue, event: ev.Event) -> _Changes:
    current = state.steps[data.step]
    steps = {
        **state.steps,
        data.step: current.model_copy(update={"overdue": True, "overdue_since": data.due_at}),
    }
    return {"steps": steps}


@_on(ev.OverdueEscalated)
def _escalated(state: CaseState, data: ev.OverdueEscalated, event: ev.Event) -> _Changes:
    steps = {
        **state.steps,
        data.step: state.steps[data.step].model_copy(update={"escalated": True}),
    }
    return {"steps": steps}


@_on(ev.OverdueAcknowledged)
def _acknowledged(state: CaseState, data: ev.OverdueAcknowledged, event: ev.Event) -> _Changes:
    steps = {
        **state.steps,
        data.step: state.steps[data.step].model_copy(update={"acknowledged": True}),
    }
    return {"steps": steps}


@_on(ev.NoteAdded)
def _note(state: CaseState, data: ev.NoteAdded, event: ev.Event) -> _Changes:
    return {"notes": state.notes + 1}


@_on(ev.ClosureRequested)
def _closure_requested(state: CaseState, data: ev.ClosureRequested, event: ev.Event) -> _Changes:
    request = ClosureRequest(
        reason=data.reason, note=data.note, requested_by=event.actor, requested_at=event.occurred_at
    )
    return {"status": CaseStatus.CLOSURE_REQUESTED, "closure": request}


@_on(ev.ClosureDecided)
def _closure_decided(state: CaseState, data: ev.ClosureDecided, event: ev.Event) -> _Changes:
    if data.approved:
        return {}
    return {"status": CaseStatus.OPEN, "closure": None}


@_on(ev.CaseClosed)
def _closed(state: CaseState, data: ev.CaseClosed, event: ev.Event) -> _Changes:
    return {
        "status": CaseStatus.CLOSED,
        "closed_reason": data.reason,
        "closed_at": event.occurred_at,
    }


def _visa(case: CaseState, visa_id: UUID, when: datetime, **changes: Any) -> _Changes:
    visa = case.visas[visa_id].model_copy(update={"updated_at": when, **changes})
    return {"visas": {**case.visas, visa_id: visa}}


@_on(ev.VisaRegistered)
def _visa_registered(state: CaseState, data: ev.VisaRegistered, event: ev.Event) -> _Changes:
    visa = VisaStatus(
        visa_id=data.visa_id,
        kind=data.kind,
        number=data.number,
        issued_on=data.issued_on,
        expires_on=data.expires_on,
        policy=data.policy,
        registered_at=event.occurred_at,
        updated_at=event.occurred_at,
    )
    return {"visas": {**state.visas, data.visa_id: visa}}


@_on(ev.VisaRenewed)
def _visa_renewed(state: CaseState, data: ev.VisaRenewed, event: ev.Event) -> _Changes:
    current = state.visas[data.visa_id]
    return _visa(
        state,
        data.visa_id,
        event.occurred_at,
        expires_on=data.expires_on,
        number=data.number or current.number,
        state=VisaState.ACTIVE,
        renewals=current.renewals + 1,
        reminders_sent=(),
        expired_at=None,
    )


@_on(ev.VisaReminderSent)
def _visa_reminded(state: CaseState, data: ev.VisaReminderSent, event: ev.Event) -> _Changes:
    sent = (*state.visas[data.visa_id].reminders_sent, data.days)
    return _visa(state, data.visa_id, event.occurred_at, reminders_sent=sent)


@_on(ev.VisaExpired)
def _visa_expired(state: CaseState, data: ev.VisaExpired, event: ev.Event) -> _Changes:
    sent = (*state.visas[data.visa_id].reminders_sent, EXPIRY)
    return _visa(
        state,
        data.visa_id,
        event.occurred_at,
        state=VisaState.EXPIRED,
        expired_at=event.occurred_at,
        reminders_sent=sent,
    )


@_on(ev.VisaCancelled)
def _visa_cancelled(state: CaseState, data: ev.VisaCancelled, event: ev.Event) -> _Changes:
    return _visa(
        state,
        data.visa_id,
        event.occurred_at,
        state=VisaState.CANCELLED,
        cancelled_reason=data.reason,
    )


@_on(ev.PersonErased)
def _person_erased(state: CaseState, data: ev.PersonErased, event: ev.Event) -> _Changes:
    """Every personal field as erased, as the store will read them from now on."""
    changes: _Changes = {"erased_at": event.occurred_at}
    if state.person is not None:
        changes["person"] = state.person.model_copy(
            update={"given_name": ERASED, "family_name": ERASED, "birth_date": None}
        )
    changes["steps"] = {
        step: s.model_copy(update={"reason": ERASED}) if s.reason is not None else s
        for step, s in state.steps.items()
    }
    changes["visas"] = {
        key: v.model_copy(
            update={
                "number": ERASED,
                "cancelled_reason": ERASED if v.cancelled_reason is not None else None,
            }
        )
        for key, v in state.visas.items()
    }
    changes["referrals"] = {
        key: r.model_copy(
            update={
                "reason": ERASED if r.reason is not None else None,
                "consent_override": ERASED if r.consent_override is not None else None,
            }
        )
        for key, r in state.referrals.items()
    }
    if state.closure is not None and state.closure.note is not None:
        changes["closure"] = state.closure.model_copy(update={"note": ERASED})
    return changes


def evolve(state: CaseState, event: ev.Event) -> CaseState:
    """The state after `event`: the event's own change, then version and clocks."""
    changes = _HANDLERS[event.type](state, event.data, event)
    last = state.last_event_at
    occurred = event.occurred_at if last is None or event.occurred_at > last else last
    changes["version"] = event.version
    changes["last_event_at"] = occurred
    if event.actor != SYSTEM_ACTOR:
        changes["last_recorded_at"] = event.recorded_at
    return state.model_copy(update=changes)


def evolve_all(state: CaseState, events: Iterable[ev.Event]) -> CaseState:
    """Fold `events` into `state`, in order."""
    for event in events:
        state = evolve(state, event)
    return state


if missing := ev.EVENT_TYPES - _HANDLERS.keys():  # pragma: no cover - a programming error
    raise RuntimeError(f"events without an evolve handler: {sorted(missing)}")

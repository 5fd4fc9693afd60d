"""The rules of the protection path (CONTRACT.md), one example at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain import CaseState, DomainError, decide, errors, evolve, evolve_all
from domain import commands as cmd
from domain import events as ev
from domain.deadlines import deadlines
from domain.decide import ALLOWED_FROM
from domain.ids import derived_id, event_id
from domain.person import Person, Sex, VictimContext
from domain.sla import DEFAULT_SLA_DAYS, SlaPolicy
from domain.vocabulary import (
    ASSISTANCE_STEPS,
    FINAL_STATES,
    PATH_ORDER,
    SYSTEM_ACTOR,
    CaseStatus,
    ClosureReason,
    ConsentScope,
    IdentificationOutcome,
    Step,
    StepAction,
    StepState,
)
from tests.unit.domain_strategies import (
    CASE_ID,
    CONTRACT_ACTIONS,
    DAY,
    HOUR,
    PERSON,
    SECOND,
    T0,
    Case,
    closed_refusal,
    identified,
    one_of_each,
    opened,
)

CONFIRMED = IdentificationOutcome.CONFIRMED_VICTIM
ADVANCE = cmd.AdvanceStep

# A valid command for each action, and how to bring a step into each state.
ACTION_FIELDS: dict[StepAction, dict[str, Any]] = {
    StepAction.REFER: {"institution": "Casa Refugio"},
    StepAction.START: {},
    StepAction.COMPLETE: {},
    StepAction.NOT_NEEDED: {"reason": "has family housing"},
    StepAction.DECLINE: {"reason": "the person said no"},
}
REACH: dict[StepState, list[StepAction]] = {
    StepState.PENDING: [],
    StepState.REFERRED: [StepAction.REFER],
    StepState.IN_PROGRESS: [StepAction.START],
    StepState.COMPLETED: [StepAction.COMPLETE],
    StepState.NOT_NEEDED: [StepAction.NOT_NEEDED],
    StepState.DECLINED: [StepAction.DECLINE],
}


def act(case: Case, step: Step, action: StepAction, **fields: Any) -> list[ev.Event]:
    return case.later(HOUR).do(ADVANCE, step=step, action=action, **fields)


def types(events: list[ev.Event]) -> list[str]:
    return [e.type for e in events]


def step_in(state: StepState, step: Step = Step.LEGAL) -> Case:
    case = identified()
    for action in REACH[state]:
        act(case, step, action, **ACTION_FIELDS[action])
    assert case.state.steps[step].state is state
    return case


# --- the whole path ------------------------------------------------------------------


def test_full_path_from_opening_to_closure() -> None:
    case = opened()
    assert types(case.events) == [
        "CaseOpened",
        "CaseAssigned",
        "ConsentGiven",
        "ConsentGiven",
        "StepOpened",
    ]
    assert case.state.status is CaseStatus.OPEN
    assert list(case.state.steps) == [Step.IDENTIFICATION]
    assert case.state.steps[Step.IDENTIFICATION].due_at == T0 + 3 * DAY

    done = act(case, Step.IDENTIFICATION, StepAction.COMPLETE, outcome=CONFIRMED)
    assert types(done) == ["StepCompleted"] + ["StepOpened"] * 4
    assert [e.data.step for e in done[1:]] == list(ASSISTANCE_STEPS)  # type: ignore[union-attr]
    assert list(case.state.steps) == list(PATH_ORDER[:5])
    for step in ASSISTANCE_STEPS:
        status = case.state.steps[step]
        assert status.state is StepState.PENDING
        assert status.opened_at == case.now
        assert status.due_at == case.now + timedelta(days=DEFAULT_SLA_DAYS[step])

    referred = act(case, Step.SHELTER, StepAction.REFER, institution="Casa Refugio")
    shelter = case.state.steps[Step.SHELTER]
    assert shelter.institution == "Casa Refugio"
    assert shelter.referral_id == referred[0].data.referral_id  # type: ignore[union-attr]
    act(case, Step.SHELTER, StepAction.START)
    act(case, Step.SHELTER, StepAction.COMPLETE)
    act(case, Step.HEALTH, StepAction.COMPLETE, note="check-up done")
    act(case, Step.LEGAL, StepAction.NOT_NEEDED, reason="no proceedings")
    act(case, Step.DOCUMENTATION, StepAction.START)
    assert Step.RETURN_REINTEGRATION not in case.state.steps
    finished = act(case, Step.DOCUMENTATION, StepAction.COMPLETE)
    assert types(finished) == ["StepCompleted", "StepOpened"]
    reintegration = case.state.steps[Step.RETURN_REINTEGRATION]
    assert reintegration.opened_at == case.now
    assert reintegration.due_at == case.now + 90 * DAY
    assert list(case.state.steps) == list(PATH_ORDER)
    act(case, Step.RETURN_REINTEGRATION, StepAction.COMPLETE)

    case.later(DAY).do(cmd.RequestClosure, reason=ClosureReason.PATH_COMPLETED, note="done")
    assert case.state.status is CaseStatus.CLOSURE_REQUESTED
    assert case.state.closure is not None
    assert case.state.closure.requested_by == "ana"
    closed = case.later(HOUR).do(cmd.DecideClosure, approved=True, actor="sup")
    assert types(closed) == ["ClosureDecided", "CaseClosed"]
    assert case.state.status is CaseStatus.CLOSED
    assert case.state.closed_reason == "path_completed"
    assert case.state.closed_at == case.now
    assert case.state.open_steps() == []
    assert deadlines(case.state) == []
    assert [e.version for e in case.events] == list(range(1, len(case.events) + 1))
    assert len({e.event_id for e in case.events}) == len(case.events)
    assert evolve_all(CaseState(), case.events) == case.state


def test_smuggled_person_opens_the_assistance_steps_too() -> None:
    case = identified(IdentificationOutcome.SMUGGLED_PERSON)
    assert case.state.steps[Step.IDENTIFICATION].outcome is IdentificationOutcome.SMUGGLED_PERSON
    assert set(ASSISTANCE_STEPS) <= set(case.state.steps)


def test_not_a_victim_closes_the_case_at_once() -> None:
    case = opened()
    done = act(case, Step.IDENTIFICATION, StepAction.COMPLETE, outcome="not_a_victim")
    assert types(done) == ["StepCompleted", "CaseClosed"]
    assert done[1].data == ev.CaseClosed(reason="not_a_victim")
    assert case.state.status is CaseStatus.CLOSED
    assert case.state.closed_reason == "not_a_victim"
    assert list(case.state.steps) == [Step.IDENTIFICATION]


def test_a_closed_case_refuses_every_command() -> None:
    case = opened()
    act(case, Step.IDENTIFICATION, StepAction.COMPLETE, outcome="not_a_victim")
    for command in one_of_each(case.now):
        if isinstance(command, cmd.ErasePerson):  # the one thing a closed case is for
            continue
        with pytest.raises(closed_refusal(command)):
            decide(case.state, command)
    assert case.refused(cmd.AddNote, text="late").code == "case_closed"
    assert case.refused(cmd.OpenCase, **_opening()).code == "case_already_open"


def test_a_new_case_accepts_only_its_opening() -> None:
    for command in one_of_each(T0)[1:]:
        with pytest.raises(errors.CaseNotFound):
            decide(CaseState(), command)
    assert opened().refused(cmd.OpenCase, **_opening()).code == "case_already_open"


def _opening(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "case_id": CASE_ID,
        "crime_type": "smuggling",
        "person": PERSON,
        "assigned_to": "ana",
    }
    return {**fields, **changes}


def test_opening_records_the_context_and_no_consent_unless_given() -> None:
    case = Case()
    case.do(
        cmd.OpenCase,
        **_opening(
            victim=VictimContext(country_of_exploitation="ar", exploitation_types=["begging"]),
            identified_by="Policía",
            location="Desaguadero",
            institution="Defensoría",
            consent=cmd.Consent(data_sharing=True),
        ),
    )
    assert types(case.events) == ["CaseOpened", "CaseAssigned", "ConsentGiven", "StepOpened"]
    state = case.state
    assert state.case_id == CASE_ID
    assert state.crime_type == "smuggling"
    assert state.victim.country_of_exploitation == "AR"
    assert (state.identified_by, state.location) == ("Policía", "Desaguadero")
    assert (state.assigned_to, state.institution) == ("ana", "Defensoría")
    assert state.has_consent(ConsentScope.DATA_SHARING)
    assert not state.has_consent(ConsentScope.ASSISTANCE)
    assert state.opened_at == T0 == state.last_event_at == state.last_recorded_at


def test_a_backdated_opening_dates_the_case_and_its_first_deadline() -> None:
    case = opened(occurred_at=T0 - 5 * DAY)
    assert case.state.opened_at == T0 - 5 * DAY
    assert case.state.steps[Step.IDENTIFICATION].due_at == T0 - 2 * DAY
    assert {e.recorded_at for e in case.events} == {T0}


# --- the action table ----------------------------------------------------------------


def test_the_decider_table_is_the_contract_table() -> None:
    assert {a: allowed for a, (allowed, _) in CONTRACT_ACTIONS.items()} == ALLOWED_FROM


@pytest.mark.parametrize("action", list(StepAction))
@pytest.mark.parametrize("state", list(StepState))
def test_each_action_from_each_state(action: StepAction, state: StepState) -> None:
    case = step_in(state)
    allowed, leads_to = CONTRACT_ACTIONS[action]
    fields = {"step": Step.LEGAL, "action": action, **ACTION_FIELDS[action]}
    if state in FINAL_STATES:
        assert case.refused(ADVANCE, **fields).code == "step_final"
    elif state not in allowed:
        assert case.refused(ADVANCE, **fields).code == "invalid_transition"
    else:
        case.do(ADVANCE, **fields)
        assert case.state.steps[Step.LEGAL].state is leads_to
        assert case.state.steps[Step.LEGAL].updated_at == case.now


@pytest.mark.parametrize("action", list(StepAction))
def test_identification_follows_the_table_but_is_always_needed(action: StepAction) -> None:
    fields = {"step": Step.IDENTIFICATION, "action": action, **ACTION_FIELDS[action]}
    if action is StepAction.COMPLETE:
        fields["outcome"] = CONFIRMED
    case = opened()
    if action is StepAction.NOT_NEEDED:
        assert case.refused(ADVANCE, **fields).code == "invalid_transition"
        return
    case.do(ADVANCE, **fields)
    assert case.state.steps[Step.IDENTIFICATION].state is CONTRACT_ACTIONS[action][1]


def test_refer_from_in_progress_then_start_again() -> None:
    case = step_in(StepState.IN_PROGRESS)
    act(case, Step.LEGAL, StepAction.REFER, institution="Fiscalía")
    act(case, Step.LEGAL, StepAction.START)
    legal = case.state.steps[Step.LEGAL]
    assert (legal.state, legal.institution) == (StepState.IN_PROGRESS, "Fiscalía")


@pytest.mark.parametrize("step", [Step.SHELTER, Step.RETURN_REINTEGRATION])
def test_steps_not_yet_open_refuse_actions(step: Step) -> None:
    case = opened() if step is Step.SHELTER else identified()
    error = case.refused(ADVANCE, step=step, action=StepAction.START)
    assert error.code == "step_not_open"


@pytest.mark.parametrize("final", [StepAction.COMPLETE, StepAction.NOT_NEEDED, StepAction.DECLINE])
def test_documentation_final_in_any_way_opens_return_reintegration(final: StepAction) -> None:
    case = identified()
    events = act(case, Step.DOCUMENTATION, final, **ACTION_FIELDS[final])
    assert types(events)[1:] == ["StepOpened"]
    assert events[1].data.step is Step.RETURN_REINTEGRATION  # type: ignore[union-attr]


def test_other_assistance_steps_ending_open_nothing() -> None:
    case = identified()
    for step in (Step.SHELTER, Step.HEALTH, Step.LEGAL):
        assert types(act(case, step, StepAction.COMPLETE)) == ["StepCompleted"]
    assert Step.RETURN_REINTEGRATION not in case.state.steps


# --- parameters of a step action -----------------------------------------------------


def test_identification_needs_its_outcome_and_only_it_has_one() -> None:
    case = opened()
    error = case.refused(ADVANCE, step=Step.IDENTIFICATION, action=StepAction.COMPLETE)
    assert error.code == "outcome_required"
    act(case, Step.IDENTIFICATION, StepAction.COMPLETE, outcome=CONFIRMED)
    error = case.refused(ADVANCE, step=Step.HEALTH, action=StepAction.COMPLETE, outcome=CONFIRMED)
    assert error.code == "outcome_not_allowed"


@pytest.mark.parametrize("action", [StepAction.NOT_NEEDED, StepAction.DECLINE])
@pytest.mark.parametrize("reason", [None, "", "  \n"])
def test_not_needed_and_decline_need_a_reason(action: StepAction, reason: str | None) -> None:
    error = identified().refused(ADVANCE, step=Step.LEGAL, action=action, reason=reason)
    assert error.code == "reason_required"


@pytest.mark.parametrize("action", [StepAction.NOT_NEEDED, StepAction.DECLINE])
def test_the_reason_is_recorded(action: StepAction) -> None:
    case = identified()
    act(case, Step.LEGAL, action, reason="already represented")
    assert case.state.steps[Step.LEGAL].reason == "already represented"


@pytest.mark.parametrize("institution", [None, " ", "\t"])
def test_a_referral_names_an_institution(institution: str | None) -> None:
    error = identified().refused(
        ADVANCE, step=Step.SHELTER, action=StepAction.REFER, institution=institution
    )
    assert error.code == "institution_required"


def test_a_referral_gets_an_id_derived_from_its_command() -> None:
    case = identified()
    command = case.command(
        ADVANCE, step=Step.SHELTER, action=StepAction.REFER, institution="Casa Refugio"
    )
    referred = decide(case.state, command)[0].data
    assert isinstance(referred, ev.StepReferred)
    assert referred.referral_id == derived_id(command.command_id, "referral")
    assert referred.referral_id != derived_id(command.command_id, "visa")


def test_a_note_on_an_action_is_recorded_with_it_unless_blank() -> None:
    case = identified()
    events = act(case, Step.HEALTH, StepAction.START, note="first visit booked")
    assert types(events) == ["StepStarted", "NoteAdded"]
    assert events[1].data == ev.NoteAdded(text="first visit booked", step=Step.HEALTH)
    assert types(act(case, Step.HEALTH, StepAction.COMPLETE, note="   ")) == ["StepCompleted"]
    assert case.state.notes == 1


# --- consent -------------------------------------------------------------------------


@pytest.mark.parametrize("step", [*ASSISTANCE_STEPS, Step.IDENTIFICATION])
def test_referring_needs_data_sharing_consent(step: Step) -> None:
    case = identified(consent=False) if step is not Step.IDENTIFICATION else opened(consent=False)
    fields = {"step": step, "action": StepAction.REFER, "institution": "Fiscalía"}
    assert case.refused(ADVANCE, **fields).code == "consent_required"
    case.later(SECOND).do(cmd.GiveConsent, scope=ConsentScope.DATA_SHARING)
    case.do(ADVANCE, **fields)
    assert case.state.steps[step].state is StepState.REFERRED


@pytest.mark.parametrize("action", [StepAction.START, StepAction.COMPLETE])
@pytest.mark.parametrize("step", [*ASSISTANCE_STEPS, Step.RETURN_REINTEGRATION])
def test_assistance_needs_assistance_consent(step: Step, action: StepAction) -> None:
    case = identified(consent=False)
    if step is Step.RETURN_REINTEGRATION:
        act(case, Step.DOCUMENTATION, StepAction.DECLINE, reason="has documents")
    case.later(SECOND).do(cmd.GiveConsent, scope=ConsentScope.DATA_SHARING)
    assert case.refused(ADVANCE, step=step, action=action).code == "consent_required"
    case.do(cmd.GiveConsent, scope=ConsentScope.ASSISTANCE)
    case.do(cmd.WithdrawConsent, scope=ConsentScope.ASSISTANCE)
    assert case.refused(ADVANCE, step=step, action=action).code == "consent_required"
    case.do(cmd.GiveConsent, scope=ConsentScope.ASSISTANCE)
    case.do(ADVANCE, step=step, action=action)


def test_identification_and_ending_steps_need_no_consent() -> None:
    case = identified(consent=False)
    assert case.state.steps[Step.IDENTIFICATION].state is StepState.COMPLETED
    act(case, Step.SHELTER, StepAction.DECLINE, reason="staying with family")
    act(case, Step.HEALTH, StepAction.NOT_NEEDED, reason="seen elsewhere")
    started = opened(consent=False)
    act(started, Step.IDENTIFICATION, StepAction.START)


def test_consent_is_given_and_withdrawn_once() -> None:
    case = opened(consent=False)
    for scope in ConsentScope:
        assert case.refused(cmd.WithdrawConsent, scope=scope).code == "consent_not_given"
        case.do(cmd.GiveConsent, scope=scope)
        assert case.state.has_consent(scope)
        assert case.refused(cmd.GiveConsent, scope=scope).code == "consent_already_given"
        case.do(cmd.WithdrawConsent, scope=scope)
        assert not case.state.has_consent(scope)


# --- closure -------------------------------------------------------------------------


@pytest.mark.parametrize("reason", list(ClosureReason))
def test_closure_with_open_steps_only_for_the_reasons_that_allow_it(
    reason: ClosureReason,
) -> None:
    case = identified()
    if reason in (ClosureReason.PATH_COMPLETED, ClosureReason.TRANSFERRED):
        error = case.refused(cmd.RequestClosure, reason=reason)
        assert error.code == "closure_blocked"
        assert "shelter, health, legal, documentation" in error.detail
        return
    case.do(cmd.RequestClosure, reason=reason)
    case.later(HOUR).do(cmd.DecideClosure, approved=True, actor="sup")
    assert case.state.status is CaseStatus.CLOSED
    assert case.state.closed_reason == reason.value
    assert len(case.state.open_steps()) == 4


@pytest.mark.parametrize("reason", list(ClosureReason))
def test_any_closure_reason_once_every_step_is_final(reason: ClosureReason) -> None:
    case = opened()
    act(case, Step.IDENTIFICATION, StepAction.DECLINE, reason="refused the interview")
    case.do(cmd.RequestClosure, reason=reason)
    assert case.state.closure is not None
    assert case.state.closure.reason is reason


def test_one_closure_request_at_a_time() -> None:
    case = opened()
    case.do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT)
    error = case.refused(cmd.RequestClosure, reason=ClosureReason.DECEASED)
    assert error.code == "closure_pending"


def test_a_decision_needs_a_request() -> None:
    assert opened().refused(cmd.DecideClosure, approved=True).code == "no_closure_requested"


def test_a_rejected_closure_reopens_the_case() -> None:
    case = opened()
    case.do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT, note="no answer")
    events = case.later(HOUR).do(cmd.DecideClosure, approved=False, note="try again")
    assert events[0].data == ev.ClosureDecided(approved=False, note="try again")
    assert case.state.status is CaseStatus.OPEN
    assert case.state.closure is None
    assert case.refused(cmd.DecideClosure, approved=True).code == "no_closure_requested"
    act(case, Step.IDENTIFICATION, StepAction.START)
    case.do(cmd.RequestClosure, reason=ClosureReason.CONSENT_WITHDRAWN)
    assert case.state.status is CaseStatus.CLOSURE_REQUESTED


def test_work_goes_on_while_a_closure_awaits_its_decision() -> None:
    case = opened()
    case.do(cmd.RequestClosure, reason=ClosureReason.DECEASED)
    act(case, Step.IDENTIFICATION, StepAction.COMPLETE, outcome=CONFIRMED)
    assert case.state.status is CaseStatus.CLOSURE_REQUESTED
    assert len(case.state.open_steps()) == 4
    case.do(cmd.DecideClosure, approved=True)
    assert case.state.closed_reason == "deceased"


# --- SLA timers: overdue, escalation, acknowledgement ----------------------------------


def test_overdue_is_recorded_at_the_due_date_not_before() -> None:
    case = identified()
    opened_at = case.state.steps[Step.SHELTER].opened_at
    due = opened_at + DAY
    case.now = due - SECOND
    error = case.refused(cmd.RecordOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    assert error.code == "not_due_yet"
    case.now = due + 5 * HOUR
    events = case.do(cmd.RecordOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    assert types(events) == ["StepOverdue"]
    assert events[0].occurred_at == due
    assert events[0].recorded_at == case.now
    assert events[0].data == ev.StepOverdue(step=Step.SHELTER, due_at=due)
    shelter = case.state.steps[Step.SHELTER]
    assert (shelter.overdue, shelter.overdue_since, shelter.escalated) == (True, due, False)
    assert shelter.updated_at == opened_at  # a timer is not work on the step
    again = case.refused(cmd.RecordOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    assert again.code == "step_not_overdue"


def test_overdue_exactly_at_the_due_date() -> None:
    case = opened()
    case.now = T0 + 3 * DAY
    events = case.do(cmd.RecordOverdue, step=Step.IDENTIFICATION, actor=SYSTEM_ACTOR)
    assert events[0].occurred_at == T0 + 3 * DAY


def test_escalation_follows_at_twice_the_sla() -> None:
    case = identified()
    opened_at = case.state.steps[Step.HEALTH].opened_at
    error = case.refused(cmd.EscalateOverdue, step=Step.HEALTH, actor=SYSTEM_ACTOR)
    assert error.code == "step_not_overdue"
    case.now = opened_at + 3 * DAY
    case.do(cmd.RecordOverdue, step=Step.HEALTH, actor=SYSTEM_ACTOR)
    case.now = opened_at + 6 * DAY - SECOND
    error = case.refused(cmd.EscalateOverdue, step=Step.HEALTH, actor=SYSTEM_ACTOR)
    assert error.code == "not_due_yet"
    case.now = opened_at + 6 * DAY
    events = case.do(cmd.EscalateOverdue, step=Step.HEALTH, actor=SYSTEM_ACTOR)
    twice = opened_at + 6 * DAY
    assert events[0].data == ev.OverdueEscalated(step=Step.HEALTH, escalated_at=twice)
    assert events[0].occurred_at == twice
    assert case.state.steps[Step.HEALTH].escalated
    again = case.refused(cmd.EscalateOverdue, step=Step.HEALTH, actor=SYSTEM_ACTOR)
    assert again.code == "already_escalated"


def test_timers_on_final_or_unopened_steps_are_refused() -> None:
    case = identified()
    case.now += 100 * DAY
    for kind in (cmd.RecordOverdue, cmd.EscalateOverdue):
        assert case.refused(kind, step=Step.IDENTIFICATION).code == "step_final"
        assert case.refused(kind, step=Step.RETURN_REINTEGRATION).code == "step_not_open"


def test_acknowledging_an_overdue_step() -> None:
    case = identified()
    ack = {"step": Step.SHELTER, "note": "called the shelter", "actor": "sup"}
    assert case.refused(cmd.AcknowledgeOverdue, **ack).code == "step_not_overdue"
    case.now += 2 * DAY
    case.do(cmd.RecordOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    error = case.refused(cmd.AcknowledgeOverdue, **{**ack, "note": "  "})
    assert error.code == "empty_text"
    events = case.do(cmd.AcknowledgeOverdue, **ack)
    assert events[0].data == ev.OverdueAcknowledged(step=Step.SHELTER, note="called the shelter")
    assert case.state.steps[Step.SHELTER].acknowledged
    assert case.refused(cmd.AcknowledgeOverdue, **ack).code == "already_acknowledged"
    # An acknowledged step still escalates: acknowledging is not doing the work.
    case.do(cmd.EscalateOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    act(case, Step.SHELTER, StepAction.COMPLETE)
    assert case.refused(cmd.AcknowledgeOverdue, **ack).code == "step_final"
    error = case.refused(cmd.AcknowledgeOverdue, **{**ack, "step": "return_reintegration"})
    assert error.code == "step_not_open"


def test_timer_events_do_not_hold_back_the_backdating_grace() -> None:
    case = identified()
    recorded = case.state.last_recorded_at
    case.now += 2 * DAY
    case.do(cmd.RecordOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    assert case.state.last_recorded_at == recorded
    assert case.state.last_event_at == case.events[-1].occurred_at


# --- time ----------------------------------------------------------------------------


def test_work_cannot_be_recorded_in_the_future() -> None:
    case = identified()
    later = case.now + SECOND
    for command in one_of_each(case.now):
        if isinstance(command, cmd.OpenCase):
            continue
        future = command.model_copy(update={"occurred_at": later})
        with pytest.raises(errors.OccurredInFuture):
            decide(case.state, future)
    error = Case().refused(cmd.OpenCase, **_opening(occurred_at=T0 + SECOND))
    assert error.code == "occurred_in_future"


def test_work_cannot_be_dated_before_the_case_opened() -> None:
    case = identified()
    before = T0 - SECOND
    error = case.refused(cmd.AddNote, text="old", occurred_at=before)
    assert error.code == "occurred_before_opening"
    error = case.refused(
        ADVANCE, step=Step.IDENTIFICATION, action=StepAction.START, occurred_at=before
    )
    assert error.code == "occurred_before_opening"


def test_step_work_cannot_be_dated_before_the_step_opened() -> None:
    case = identified()
    shelter_opened = case.state.steps[Step.SHELTER].opened_at
    fields = {"step": Step.SHELTER, "action": StepAction.COMPLETE}
    error = case.refused(ADVANCE, **fields, occurred_at=shelter_opened - SECOND)
    assert error.code == "occurred_before_opening"
    case.later(DAY).do(ADVANCE, **fields, occurred_at=shelter_opened)
    assert case.state.steps[Step.SHELTER].updated_at == shelter_opened


def test_backdated_work_keeps_the_latest_event_time() -> None:
    case = identified()
    latest = case.state.last_event_at
    assert latest is not None
    case.later(DAY).do(cmd.AddNote, text="earlier visit", occurred_at=latest - HOUR)
    assert case.state.last_event_at == latest
    assert case.state.last_recorded_at == case.now


# --- assignment and notes ------------------------------------------------------------


def test_reassignment() -> None:
    case = opened()
    assert case.refused(cmd.AssignCase, caseworker="ana").code == "already_assigned"
    events = case.do(cmd.AssignCase, caseworker="luis", actor="sup")
    assert events[0].data == ev.CaseAssigned(caseworker="luis", institution=None, previous="ana")
    case.do(cmd.AssignCase, caseworker="sofia", institution="Defensoría")
    case.do(cmd.AssignCase, caseworker="ana")
    assert (case.state.assigned_to, case.state.institution) == ("ana", "Defensoría")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_notes_need_text(text: str) -> None:
    assert opened().refused(cmd.AddNote, text=text).code == "empty_text"


def test_notes_on_the_case_or_on_an_opened_step() -> None:
    case = opened()
    case.do(cmd.AddNote, text="first contact")
    case.do(cmd.AddNote, text="screening", step=Step.IDENTIFICATION)
    assert case.refused(cmd.AddNote, text="x", step=Step.SHELTER).code == "step_not_open"
    assert case.state.notes == 2
    assert case.events[-1].data == ev.NoteAdded(text="screening", step=Step.IDENTIFICATION)


# --- SLA policy ----------------------------------------------------------------------


def test_default_slas_are_the_contract_ones() -> None:
    assert {s.value: d for s, d in DEFAULT_SLA_DAYS.items()} == {
        "identification": 3,
        "shelter": 1,
        "health": 3,
        "legal": 14,
        "documentation": 30,
        "return_reintegration": 90,
    }
    policy = SlaPolicy()
    assert policy.stale_days == 30
    assert all(policy.limit(s) == timedelta(days=DEFAULT_SLA_DAYS[s]) for s in Step)


def test_sla_overrides() -> None:
    policy = SlaPolicy.with_overrides({"shelter": 2, "legal": 7}, stale_days=10)
    assert policy.limit(Step.SHELTER) == 2 * DAY
    assert policy.limit(Step.LEGAL) == 7 * DAY
    assert policy.limit(Step.HEALTH) == 3 * DAY
    assert policy.stale_days == 10
    with pytest.raises(ValueError, match="at least 1 day"):
        SlaPolicy.with_overrides({"shelter": 0})
    with pytest.raises(ValueError):
        SlaPolicy.with_overrides({"housing": 2})
    with pytest.raises(ValueError):
        SlaPolicy(days={Step.SHELTER: 0})
    assert SlaPolicy(days={Step.SHELTER: 5}).limit(Step.HEALTH) == 3 * DAY


def test_a_case_keeps_the_policy_it_opened_with() -> None:
    case = identified(sla=SlaPolicy.with_overrides({"identification": 1, "documentation": 10}))
    assert case.state.steps[Step.IDENTIFICATION].due_at == T0 + DAY
    documentation = case.state.steps[Step.DOCUMENTATION]
    assert documentation.due_at == documentation.opened_at + 10 * DAY
    assert documentation.escalates_at == documentation.opened_at + 20 * DAY
    opening = case.events[0].data
    assert isinstance(opening, ev.CaseOpened)
    assert opening.sla.days[Step.DOCUMENTATION] == 10


# --- events, ids and the small models ------------------------------------------------


def test_contract_event_types_exist() -> None:
    assert {
        "CaseOpened",
        "CaseAssigned",
        "StepOpened",
        "StepReferred",
        "StepStarted",
        "StepCompleted",
        "StepNotNeeded",
        "StepDeclined",
        "StepOverdue",
        "OverdueAcknowledged",
        "NoteAdded",
        "ClosureRequested",
        "ClosureDecided",
        "CaseClosed",
    } <= ev.EVENT_TYPES


def test_events_are_stored_without_their_type_and_rebuilt_from_it() -> None:
    event = identified().events[-1]
    data = event.data_json()
    assert "type" not in data
    assert data == {"step": "documentation", "due_at": "2025-04-02T10:00:00Z"}
    rebuilt = ev.Event.from_stored(
        event_id=event.event_id,
        case_id=event.case_id,
        version=event.version,
        type=event.type,
        data=data,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
    )
    assert rebuilt == event


def test_deciding_is_deterministic_and_ids_derive_from_the_command() -> None:
    case = opened()
    command = case.command(ADVANCE, step=Step.IDENTIFICATION, action="start")
    first, second = decide(case.state, command), decide(case.state, command)
    assert first == second
    assert first[0].event_id == event_id(command.command_id, 0, command.at)
    assert first[0].event_id.version == 7
    assert int(first[0].event_id.hex[:12], 16) == int(command.at.timestamp() * 1000)
    assert evolve(case.state, first[0]).version == case.state.version + 1


def test_person_and_victim_countries_are_iso_codes() -> None:
    person = Person(given_name="Jean", family_name="Pierre", sex=Sex.MALE, nationality=" ht ")
    assert person.nationality == "HT"
    with pytest.raises(ValueError, match="ISO 3166-1"):
        Person(given_name="Jean", family_name="Pierre", sex=Sex.MALE, nationality="HTI")
    assert VictimContext().country_of_exploitation is None
    with pytest.raises(ValueError, match="ISO 3166-1"):
        VictimContext(country_of_exploitation="Chile")


def test_vocabulary() -> None:
    assert [s.value for s in PATH_ORDER] == [
        "identification",
        "shelter",
        "health",
        "legal",
        "documentation",
        "return_reintegration",
    ]
    assert {s for s in StepState if s.final} == FINAL_STATES
    assert {s.value for s in FINAL_STATES} == {"completed", "not_needed", "declined"}


def test_every_error_has_its_own_stable_code() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type)]
    refusals = [c for c in classes if issubclass(c, DomainError) and c is not DomainError]
    codes = [c.code for c in refusals]
    assert len(codes) == len(set(codes))
    assert all(code.islower() and " " not in code for code in codes)
    error = errors.StepFinal("step legal is already completed")
    assert (error.code, error.detail, str(error)) == (
        "step_final",
        "step legal is already completed",
        "step legal is already completed",
    )

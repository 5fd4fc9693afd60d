"""When a case's SLA timers fire (domain/deadlines.py)."""

from __future__ import annotations

from datetime import timedelta

from domain import CaseState
from domain import commands as cmd
from domain.deadlines import Deadline, deadlines, due_now, fire_time, next_fire_time
from domain.sla import SlaPolicy
from domain.vocabulary import SYSTEM_ACTOR, ClosureReason, IdentificationOutcome, Step, StepAction
from tests.unit.domain_strategies import DAY, HOUR, SECOND, T0, identified, opened

GRACE = timedelta(seconds=SlaPolicy().backdating_grace_seconds)


def test_a_new_case_has_no_deadlines() -> None:
    assert deadlines(CaseState()) == []
    assert next_fire_time(CaseState()) is None
    assert due_now(CaseState(), T0 + 1000 * DAY) == []


def test_shelter_is_due_one_day_after_opening_and_escalates_at_two() -> None:
    case = identified()
    opened_at = case.now
    shelter = [d for d in deadlines(case.state) if d.step is Step.SHELTER]
    assert shelter == [Deadline(Step.SHELTER, "overdue", opened_at + DAY)]
    assert due_now(case.state, opened_at + DAY - SECOND) == []
    assert due_now(case.state, opened_at + DAY) == shelter

    case.now = opened_at + DAY
    case.do(cmd.RecordOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    shelter = [d for d in deadlines(case.state) if d.step is Step.SHELTER]
    assert shelter == [Deadline(Step.SHELTER, "escalate", opened_at + 2 * DAY)]
    assert next_fire_time(case.state) == opened_at + 2 * DAY

    case.now = opened_at + 2 * DAY
    case.do(cmd.EscalateOverdue, step=Step.SHELTER, actor=SYSTEM_ACTOR)
    assert Step.SHELTER not in {d.step for d in deadlines(case.state)}


def test_deadlines_are_ordered_earliest_first() -> None:
    case = identified()
    at = case.now
    assert deadlines(case.state) == [
        Deadline(Step.SHELTER, "overdue", at + DAY),
        Deadline(Step.HEALTH, "overdue", at + 3 * DAY),
        Deadline(Step.LEGAL, "overdue", at + 14 * DAY),
        Deadline(Step.DOCUMENTATION, "overdue", at + 30 * DAY),
    ]
    assert next_fire_time(case.state) == at + DAY


def test_equal_deadlines_keep_a_stable_order() -> None:
    case = identified(sla=SlaPolicy.with_overrides({"health": 1, "legal": 1}))
    first = deadlines(case.state)[:3]
    assert {d.at for d in first} == {case.now + DAY}
    assert [d.step for d in first] == sorted(d.step for d in first)


def test_final_and_escalated_steps_have_no_deadline() -> None:
    case = identified()
    case.later(HOUR).do(cmd.AdvanceStep, step=Step.SHELTER, action=StepAction.COMPLETE)
    assert Step.SHELTER not in {d.step for d in deadlines(case.state)}
    assert Step.IDENTIFICATION not in {d.step for d in deadlines(case.state)}


def test_closed_cases_have_no_deadlines_but_awaiting_closure_still_does() -> None:
    case = identified()
    case.later(HOUR).do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT)
    assert len(deadlines(case.state)) == 4
    case.later(HOUR).do(cmd.DecideClosure, approved=True)
    assert deadlines(case.state) == []
    assert next_fire_time(case.state) is None
    assert due_now(case.state, case.now + 1000 * DAY) == []


def test_not_a_victim_leaves_no_deadlines() -> None:
    assert deadlines(identified(IdentificationOutcome.NOT_A_VICTIM).state) == []


def test_a_deadline_already_past_waits_for_the_grace_after_the_command() -> None:
    case = opened(occurred_at=T0 - 5 * DAY)  # recorded at T0, happened five days before
    identification = Deadline(Step.IDENTIFICATION, "overdue", T0 - 2 * DAY)
    assert deadlines(case.state) == [identification]
    assert fire_time(case.state, identification) == T0 + GRACE
    assert due_now(case.state, T0 + GRACE - SECOND) == []
    assert due_now(case.state, T0 + GRACE) == [identification]

    # The caseworker goes on entering past work: each command pushes the grace on.
    case.later(30 * SECOND).do(cmd.AddNote, text="screening notes", occurred_at=T0 - 4 * DAY)
    assert next_fire_time(case.state) == T0 + 30 * SECOND + GRACE


def test_a_future_deadline_is_unaffected_by_the_grace() -> None:
    case = opened(occurred_at=T0 - 5 * DAY)
    case.later(HOUR).do(
        cmd.AdvanceStep,
        step=Step.IDENTIFICATION,
        action=StepAction.COMPLETE,
        outcome=IdentificationOutcome.CONFIRMED_VICTIM,
        occurred_at=T0 - 2 * DAY,
    )
    recorded = case.now
    by_step = {d.step: d for d in deadlines(case.state)}
    shelter, health = by_step[Step.SHELTER], by_step[Step.HEALTH]
    assert shelter.at == T0 - DAY  # already past when recorded
    assert fire_time(case.state, shelter) == recorded + GRACE
    assert health.at == T0 + DAY  # still ahead
    assert fire_time(case.state, health) == health.at
    assert [d.step for d in due_now(case.state, recorded + GRACE)] == [Step.SHELTER]


def test_a_deadline_within_the_grace_window_waits_for_its_end() -> None:
    # The grace is a floor on every fire time: a deadline that falls due while work is
    # still being entered waits too, so the last entries are not flagged late.
    case = opened(occurred_at=T0 - 3 * DAY + 10 * SECOND)
    identification = deadlines(case.state)[0]
    assert identification.at == T0 + 10 * SECOND
    assert fire_time(case.state, identification) == T0 + GRACE


def test_without_grace_a_past_deadline_fires_as_soon_as_it_is_recorded() -> None:
    policy = SlaPolicy(backdating_grace_seconds=0)
    assert next_fire_time(opened(occurred_at=T0 - 5 * DAY, sla=policy).state) == T0
    assert next_fire_time(opened(sla=policy).state) == T0 + 3 * DAY


def test_a_case_opened_by_the_system_has_no_grace() -> None:
    case = opened(occurred_at=T0 - 5 * DAY, actor=SYSTEM_ACTOR)
    assert case.state.last_recorded_at is None
    assert next_fire_time(case.state) == T0 - 2 * DAY


def test_system_timer_commands_do_not_move_the_grace() -> None:
    case = opened(occurred_at=T0 - 7 * DAY)
    case.now = T0 + GRACE
    case.do(cmd.RecordOverdue, step=Step.IDENTIFICATION, actor=SYSTEM_ACTOR)
    escalation = deadlines(case.state)[0]
    assert escalation == Deadline(Step.IDENTIFICATION, "escalate", T0 - DAY)
    assert fire_time(case.state, escalation) == T0 + GRACE
    assert due_now(case.state, case.now) == [escalation]

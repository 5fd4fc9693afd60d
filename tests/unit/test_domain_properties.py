"""Properties of the decider over random command sequences.

A hypothesis state machine issues commands of every kind, valid and not, at a clock
that only moves forward (sometimes by seconds, sometimes by months), and fires the SLA
timers as the workflow does. After every command it checks what the rest of Amparo
relies on: refusals change nothing, the state is the fold of its stored events, final
steps stay final, versions and ids are sound, events and state survive serialisation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain import CaseState, DomainError, Event, decide, errors, evolve_all
from domain import commands as cmd
from domain.deadlines import deadlines, due_now, fire_time, next_fire_time
from domain.decide import VISA_AFTER_CLOSURE
from domain.ids import event_id
from domain.personal import ERASED
from domain.sla import DEFAULT_SLA_DAYS, SlaPolicy
from domain.state import StepStatus
from domain.vocabulary import (
    ASSISTANCE_STEPS,
    CLOSES_WITH_OPEN_STEPS,
    NOT_A_VICTIM_CLOSURE,
    SYSTEM_ACTOR,
    CaseStatus,
    IdentificationOutcome,
    Step,
    StepState,
)
from tests.unit.domain_strategies import (
    CONTRACT_ACTIONS,
    FIELDS,
    KINDS,
    WAITS,
    Case,
    closed_refusal,
    one_of_each,
)


def stored(event: Event) -> Event:
    """The event as the store gives it back (its columns), checked against the original."""
    back = Event.from_stored(
        event_id=event.event_id,
        case_id=event.case_id,
        version=event.version,
        type=event.type,
        data=event.data_json(),
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        actor=event.actor,
    )
    assert back == event
    assert Event.model_validate_json(event.model_dump_json()) == event
    return back


def outcome(state: CaseState, command: Any) -> list[Event] | DomainError:
    """The events `command` causes in `state`, or its refusal."""
    try:
        return decide(state, command)
    except DomainError as error:
        return error


def follows_visa(state: CaseState, command: Any) -> bool:
    """A closed case still decides the visa commands of a person who stays, and erasure."""
    visa = state.follows_visas and isinstance(command, VISA_AFTER_CLOSURE)
    return visa or isinstance(command, cmd.ErasePerson)


TIME_CODES = {"occurred_in_future", "occurred_before_opening"}
STEP_COMMANDS = (cmd.AdvanceStep, cmd.AcknowledgeOverdue, cmd.RecordOverdue, cmd.EscalateOverdue)


def on_final_step(state: CaseState, command: Any) -> bool:
    """Whether `command` acts on a step of an open case that is final already."""
    if not state.is_open or not isinstance(command, STEP_COMMANDS):
        return False
    status = state.steps.get(command.step)
    return status is not None and status.final


class CaseMachine(RuleBasedStateMachine):
    """One case under random commands; `stored` is what an event store would hold."""

    def __init__(self) -> None:
        super().__init__()
        self.case = Case()
        self.stored: list[Event] = []
        self.finals: dict[Step, StepStatus] = {}

    def _decide(self, command: Any) -> list[Event] | None:
        before = self.case.state
        snapshot = before.model_dump()
        first, second = outcome(before, command), outcome(before, command)
        assert before.model_dump() == snapshot, "decide never changes the state it is given"
        if isinstance(first, DomainError):
            assert type(first) is not DomainError
            assert isinstance(second, DomainError)
            assert second.code == first.code
            if before.status is CaseStatus.CLOSED and not follows_visa(before, command):
                assert isinstance(first, closed_refusal(command))
            if before.status is CaseStatus.NEW and not isinstance(command, cmd.OpenCase):
                assert isinstance(first, errors.CaseNotFound)
            if on_final_step(before, command):
                assert first.code in {"step_final", *TIME_CODES}
            return None
        assert before.status is not CaseStatus.CLOSED or follows_visa(before, command)
        assert not on_final_step(before, command), "a final step never changes"
        assert first, "an accepted command records something"
        assert second == first, "deciding is deterministic"
        self.case.state = evolve_all(before, first)
        assert before.model_dump() == snapshot, "evolve never changes the state it is given"
        if isinstance(command, cmd.AdvanceStep):
            allowed, leads_to = CONTRACT_ACTIONS[command.action]
            assert before.steps[command.step].state in allowed
            assert self.case.state.steps[command.step].state is leads_to
        self.case.events.extend(first)
        self.stored.extend(stored(e) for e in first)
        return first

    @initialize(wait=WAITS, data=st.data())
    def open_case(self, wait: timedelta, data: st.DataObject) -> None:
        self.case.now += wait
        fields = data.draw(FIELDS[cmd.OpenCase](self.case.state, self.case.now))
        self._decide(self.case.command(cmd.OpenCase, **fields))

    @rule(kind=KINDS, wait=WAITS, data=st.data())
    def command(self, kind: type[Any], wait: timedelta, data: st.DataObject) -> None:
        self.case.now += wait
        fields = data.draw(FIELDS[kind](self.case.state, self.case.now))
        self._decide(self.case.command(kind, **fields))

    @rule(wait=WAITS)
    def timers_fire(self, wait: timedelta) -> None:
        """What the workflow does when its timer fires: every due deadline is accepted."""
        self.case.now += wait
        for deadline in due_now(self.case.state, self.case.now):
            kind = cmd.RecordOverdue if deadline.kind == "overdue" else cmd.EscalateOverdue
            command = self.case.command(kind, step=deadline.step, actor=SYSTEM_ACTOR)
            events = self._decide(command)
            assert events is not None, f"the {deadline} deadline was refused"
            assert events[0].occurred_at == deadline.at

    @invariant()
    def state_is_the_fold_of_its_stored_events(self) -> None:
        assert evolve_all(CaseState(), self.stored) == self.case.state

    @invariant()
    def state_survives_continue_as_new(self) -> None:
        state = self.case.state
        assert CaseState.model_validate_json(state.model_dump_json()) == state

    @invariant()
    def versions_contiguous_and_ids_unique(self) -> None:
        events = self.case.events
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        assert self.case.state.version == len(events)
        assert len({e.event_id for e in events}) == len(events)
        assert {e.case_id for e in events} <= {self.case.state.case_id}

    @invariant()
    def times_are_sound(self) -> None:
        state = self.case.state
        recorded = [e.recorded_at for e in self.case.events]
        assert recorded == sorted(recorded)
        for event in self.case.events:
            assert event.occurred_at <= event.recorded_at
            assert state.opened_at is not None
            assert event.occurred_at >= state.opened_at
        for status in state.steps.values():
            assert status.opened_at < status.due_at < status.escalates_at

    @invariant()
    def final_steps_never_change(self) -> None:
        """Final steps stay as they are (but for a reason erased with the person's data)."""
        erased = self.case.state.erased_at is not None
        for step, status in self.case.state.steps.items():
            if step in self.finals:
                was = self.finals[step]
                assert status == (
                    was.model_copy(update={"reason": ERASED})
                    if erased and was.reason is not None
                    else was
                )
            elif status.final:
                self.finals[step] = status
        assert self.finals.keys() <= self.case.state.steps.keys()

    @invariant()
    def steps_open_in_the_order_of_the_path(self) -> None:
        steps = self.case.state.steps
        identification = steps.get(Step.IDENTIFICATION)
        assert (identification is None) == (self.case.state.status is CaseStatus.NEW)
        confirmed = identification is not None and identification.outcome in (
            IdentificationOutcome.CONFIRMED_VICTIM,
            IdentificationOutcome.SMUGGLED_PERSON,
        )
        assert all((s in steps) == confirmed for s in ASSISTANCE_STEPS)
        if confirmed:
            assert identification is not None
            assert {steps[s].opened_at for s in ASSISTANCE_STEPS} == {identification.updated_at}
        if Step.RETURN_REINTEGRATION in steps:
            documentation = steps[Step.DOCUMENTATION]
            assert documentation.final
            assert steps[Step.RETURN_REINTEGRATION].opened_at == documentation.updated_at

    @invariant()
    def closed_only_by_the_rules(self) -> None:
        state = self.case.state
        if state.status is not CaseStatus.CLOSED:
            assert state.closed_at is None
            assert state.closure is None or state.status is CaseStatus.CLOSURE_REQUESTED
            return
        if state.closed_reason == NOT_A_VICTIM_CLOSURE:
            identification = state.steps[Step.IDENTIFICATION]
            assert identification.outcome is IdentificationOutcome.NOT_A_VICTIM
        else:
            assert state.closure is not None
            assert state.closed_reason == state.closure.reason.value
            if state.closure.reason not in CLOSES_WITH_OPEN_STEPS:
                assert state.open_steps() == []

    @invariant()
    def a_closed_case_accepts_nothing_but_its_visas(self) -> None:
        state = self.case.state
        if state.status is not CaseStatus.CLOSED:
            return
        assert deadlines(state) == []
        for command in one_of_each(self.case.now):
            refusal = outcome(state, command)
            if follows_visa(state, command):
                assert not isinstance(refusal, errors.CaseClosed), f"refused: {command}"
                continue
            assert isinstance(refusal, closed_refusal(command)), f"closed case: {command}"

    @invariant()
    def a_referred_step_waits_on_exactly_its_live_referral(self) -> None:
        state = self.case.state
        live = {r.referral_id: r for r in state.referrals.values() if not r.final}
        for status in state.steps.values():
            if status.state is StepState.REFERRED:
                referral = live.get(status.referral_id)  # type: ignore[arg-type]
                assert referral is not None, f"{status.step} referred without a live referral"
                assert (referral.step, referral.institution) == (status.step, status.institution)
        for referral in live.values():
            status = state.steps[referral.step]
            assert state.is_open, "a closed case keeps no live referral"
            assert not status.final and status.referral_id == referral.referral_id
            assert status.state in (StepState.REFERRED, StepState.IN_PROGRESS)
        for referral in state.referrals.values():
            if referral.consent_override is None and not referral.final:
                assert state.consent.data_sharing, "a live referral rests on consent"

    @invariant()
    def an_erased_person_is_erased_in_the_state(self) -> None:
        state = self.case.state
        if state.erased_at is None or state.person is None:
            return
        assert (state.person.given_name, state.person.family_name) == (ERASED, ERASED)
        assert state.person.birth_date is None
        assert all(v.number == ERASED for v in state.visas.values())

    @invariant()
    def deadlines_are_ordered_and_belong_to_open_steps(self) -> None:
        state = self.case.state
        found = deadlines(state)
        assert [d.at for d in found] == sorted(d.at for d in found)
        open_steps = {s.step for s in state.open_steps()}
        assert {d.step for d in found} <= open_steps
        times = [fire_time(state, d) for d in found]
        assert all(t >= d.at for t, d in zip(times, found, strict=True))
        assert next_fire_time(state) == (min(times) if times else None)


CaseMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, database=None
)
TestCaseMachine = CaseMachine.TestCase


# --- smaller properties ----------------------------------------------------------------


@settings(max_examples=100, deadline=None, database=None)
@given(
    command_id=st.uuids(),
    at=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-4))]),
    ),
    gap=st.integers(1, 10**9),
    index=st.integers(0, 20),
)
def test_event_ids_are_deterministic_time_ordered_uuid7(
    command_id: UUID, at: datetime, gap: int, index: int
) -> None:
    later = at + timedelta(milliseconds=gap)
    one = event_id(command_id, index, at)
    assert one == event_id(command_id, index, at)
    assert one.version == 7
    assert one.variant == "specified in RFC 4122"
    assert one != event_id(command_id, index + 1, at)
    assert event_id(command_id, index, later) > one


@settings(max_examples=100, deadline=None, database=None)
@given(
    days=st.dictionaries(st.sampled_from(list(Step)), st.integers(1, 400)),
    stale=st.integers(1, 90),
)
def test_sla_overrides_replace_only_the_named_steps(days: dict[Step, int], stale: int) -> None:
    policy = SlaPolicy.with_overrides({s.value: d for s, d in days.items()}, stale_days=stale)
    assert policy.stale_days == stale
    for step in Step:
        assert policy.limit(step) == timedelta(days=days.get(step, DEFAULT_SLA_DAYS[step]))
    assert SlaPolicy.model_validate_json(policy.model_dump_json()) == policy

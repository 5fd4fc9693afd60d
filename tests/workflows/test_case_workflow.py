"""The case workflow on the time-skipping server: path, SLA timers, refusals, continue-as-new."""

from __future__ import annotations

import asyncio
import gc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from amparo.cases import CommandRefused
from domain import CaseState, decide, evolve_all
from domain import commands as cmd
from domain.events import OverdueEscalated, StepOverdue
from domain.vocabulary import CaseStatus, Step, StepState
from tests.workflows.conftest import CaseHarness
from workflows.contracts import CaseResult, case_workflow_id

WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}
HISTORIES = Path(__file__).parent / "histories"
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the workflow replaces `at` with its own clock


def opening(**changes: object) -> cmd.OpenCase:
    fields: dict[str, object] = {
        "command_id": uuid.uuid4(),
        "actor": "ana",
        "at": NOW,
        "case_id": uuid.uuid4(),
        "crime_type": "trafficking",
        "person": {
            "given_name": "Ana",
            "family_name": "Peña",
            "sex": "female",
            "nationality": "VE",
        },
        "assigned_to": "ana",
        "consent": {"assistance": True, "data_sharing": True},
    }
    return cmd.OpenCase.model_validate(fields | changes)


def step(name: str, action: str, **extra: object) -> cmd.AdvanceStep:
    return cmd.AdvanceStep.model_validate(
        {"command_id": uuid.uuid4(), "actor": "ana", "at": NOW, "step": name, "action": action}
        | extra
    )


def closure(reason: str = "path_completed") -> cmd.RequestClosure:
    return cmd.RequestClosure(command_id=uuid.uuid4(), actor="ana", at=NOW, reason=reason)


def decision(approved: bool = True) -> cmd.DecideClosure:
    return cmd.DecideClosure(command_id=uuid.uuid4(), actor="sofia", at=NOW, approved=approved)


def assert_stream_intact(h: CaseHarness, case_id: uuid.UUID) -> list[str]:
    events = h.store.read_stream(case_id)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert len({e.event_id for e in events}) == len(events)
    return [e.type for e in events]


async def save_history(h: CaseHarness, case_id: uuid.UUID, name: str) -> None:
    """Record a history for the replay test (only if absent: committed files guard changes)."""
    target = HISTORIES / f"{name}.json"
    if not target.exists():
        history = await h.env.client.get_workflow_handle(case_workflow_id(case_id)).fetch_history()
        target.write_text(history.to_json())


async def test_full_path_from_opening_to_approved_closure(harness: CaseHarness) -> None:
    h = harness
    open_cmd = opening()
    case_id = open_cmd.case_id
    result = await h.commands.open(open_cmd)
    assert result.events[:2] == ["CaseOpened", "CaseAssigned"]
    await h.commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))
    await h.commands.send(case_id, step("shelter", "refer", institution="specialized-shelter"))
    await h.commands.send(case_id, step("shelter", "start"))
    await h.commands.send(case_id, step("shelter", "complete"))
    await h.commands.send(case_id, step("health", "complete", note="first consultation done"))
    await h.commands.send(case_id, step("legal", "not_needed", reason="no proceedings"))
    result = await h.commands.send(case_id, step("documentation", "complete"))
    assert "StepOpened" in result.events  # return_reintegration opens
    await h.commands.send(case_id, step("return_reintegration", "complete"))
    await h.commands.send(case_id, closure())
    result = await h.commands.send(case_id, decision(approved=True))
    assert result.events == ["ClosureDecided", "CaseClosed"]

    handle = h.env.client.get_workflow_handle(case_workflow_id(case_id))
    outcome = await handle.result()
    assert CaseResult.model_validate(outcome).status == "closed"
    types = assert_stream_intact(h, case_id)
    assert types[0] == "CaseOpened" and types[-1] == "CaseClosed"
    assert types.count("StepOpened") == 6
    await save_history(h, case_id, "full_path_local_append")


async def test_shelter_overdue_at_one_day_and_escalated_at_two(harness: CaseHarness) -> None:
    h = harness
    open_cmd = opening()
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    await h.commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))
    state = await h.commands.current(case_id)
    shelter = state.steps[Step.SHELTER]
    assert shelter.due_at - shelter.opened_at == timedelta(days=1)

    await h.env.sleep(timedelta(days=1) - timedelta(minutes=5))
    assert not (await h.commands.current(case_id)).steps[Step.SHELTER].overdue
    await h.env.sleep(timedelta(minutes=10))
    state = await h.commands.current(case_id)
    assert state.steps[Step.SHELTER].overdue
    assert not state.steps[Step.SHELTER].escalated
    await h.env.sleep(timedelta(days=1))
    state = await h.commands.current(case_id)
    assert state.steps[Step.SHELTER].escalated

    shelter_events = [
        e
        for e in h.store.read_stream(case_id)
        if isinstance(e.data, StepOverdue | OverdueEscalated) and e.data.step is Step.SHELTER
    ]
    overdue, escalated = shelter_events
    assert overdue.occurred_at == shelter.opened_at + timedelta(days=1)
    assert escalated.occurred_at == shelter.opened_at + timedelta(days=2)
    # The timers fired on time: recorded within a second of the deadline, by the system.
    assert abs(overdue.recorded_at - overdue.occurred_at) < timedelta(seconds=1)
    assert abs(escalated.recorded_at - escalated.occurred_at) < timedelta(seconds=1)
    assert {overdue.actor, escalated.actor} == {"system"}
    assert_stream_intact(h, case_id)
    await save_history(h, case_id, "overdue_escalation_local_append")


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (step("shelter", "start"), "step_not_open"),
        (step("identification", "complete"), "outcome_required"),
        (step("identification", "refer"), "institution_required"),
        (decision(), "no_closure_requested"),
    ],
)
async def test_refused_command_changes_nothing(
    harness: CaseHarness, command: cmd.AdvanceStep | cmd.DecideClosure, code: str
) -> None:
    h = harness
    open_cmd = opening()
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    handle = h.env.client.get_workflow_handle(case_workflow_id(case_id))
    history_before = len((await handle.fetch_history()).events)
    stored_before = h.store.read_stream(case_id)

    with pytest.raises(CommandRefused) as refused:
        await h.commands.send(case_id, command)

    assert refused.value.code == code
    # The Java test server writes the (empty) workflow task that ran the validator; the
    # real server drops it (checked in tests/integration). Nothing else may appear.
    added = (await handle.fetch_history()).events[history_before:]
    assert {e.event_type for e in added} <= WORKFLOW_TASK_EVENTS
    assert h.store.read_stream(case_id) == stored_before


async def test_unknown_and_closed_cases_are_refused(harness: CaseHarness) -> None:
    h = harness
    with pytest.raises(CommandRefused) as refused:
        await h.commands.send(uuid.uuid4(), step("shelter", "start"))
    assert refused.value.code == "case_not_found"

    open_cmd = opening()
    await h.commands.open(open_cmd)
    await h.commands.send(
        open_cmd.case_id, step("identification", "complete", outcome="not_a_victim")
    )
    await h.env.client.get_workflow_handle(case_workflow_id(open_cmd.case_id)).result()
    with pytest.raises(CommandRefused) as refused:
        await h.commands.send(open_cmd.case_id, closure())
    assert refused.value.code == "case_closed"
    with pytest.raises(CommandRefused) as refused:
        await h.commands.open(open_cmd.model_copy(update={"command_id": uuid.uuid4()}))
    assert refused.value.code == "case_already_open"


async def test_a_refused_opening_leaves_no_unread_error_behind(harness: CaseHarness) -> None:
    """The SDK keeps a failed start's error in a future nobody awaited: asyncio logged it as
    "Future exception was never retrieved", an ERROR with a traceback, for every opening of
    a closed case's id (and every opening that timed out)."""
    h = harness
    open_cmd = opening()
    await h.commands.open(open_cmd)
    await h.commands.send(
        open_cmd.case_id, step("identification", "complete", outcome="not_a_victim")
    )
    await h.env.client.get_workflow_handle(case_workflow_id(open_cmd.case_id)).result()
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        for _ in range(3):
            with pytest.raises(CommandRefused):
                await h.commands.open(open_cmd.model_copy(update={"command_id": uuid.uuid4()}))
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [c["message"] for c in reported] == []


async def test_retried_command_is_applied_once(harness: CaseHarness) -> None:
    h = harness
    open_cmd = opening()
    await h.commands.open(open_cmd)
    await h.commands.open(open_cmd)  # the same request again: deduplicated by its id
    command = step("identification", "complete", outcome="confirmed_victim")
    first = await h.commands.send(open_cmd.case_id, command)
    second = await h.commands.send(open_cmd.case_id, command)
    assert first == second
    types = assert_stream_intact(h, open_cmd.case_id)
    assert types.count("CaseOpened") == 1 and types.count("StepCompleted") == 1


async def test_continue_as_new_keeps_state_and_every_event(harness: CaseHarness) -> None:
    h = harness
    h.commands._max_updates = 3
    open_cmd = opening()
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    await h.commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))
    for n in range(8):
        await h.commands.send(
            case_id,
            cmd.AddNote(command_id=uuid.uuid4(), actor="ana", at=NOW, text=f"visit {n}"),
        )
    await h.commands.send(case_id, step("shelter", "complete"))

    handle = h.env.client.get_workflow_handle(case_workflow_id(case_id))
    description = await handle.describe()
    assert description.run_id != description.raw_description.workflow_execution_info.first_run_id
    state = await h.commands.current(case_id)
    assert state.notes == 8
    assert state.steps[Step.SHELTER].state is StepState.COMPLETED
    assert state.status is CaseStatus.OPEN
    types = assert_stream_intact(h, case_id)
    assert types.count("NoteAdded") == 8
    assert state.version == len(types)


async def stored_by_lost_task(h: CaseHarness, case_id: uuid.UUID, command: cmd.Command) -> int:
    """Store what a workflow task decided before its worker died: events it never recorded.

    With the append a local activity, a task writes the store before Temporal records the
    task; its re-run then decides at another moment (other event ids), or other commands.
    """
    state = await h.commands.current(case_id)
    assert state.opened_at is not None
    stamped = command.model_copy(update={"at": state.opened_at})
    events = decide(state, stamped)
    assert h.store.append(events) == len(events)
    return events[-1].version


async def test_events_stored_by_a_lost_task_are_adopted(harness: CaseHarness) -> None:
    h = harness
    open_cmd = opening()
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    lost = step("identification", "complete", outcome="confirmed_victim")
    lost_version = await stored_by_lost_task(h, case_id, lost)

    # The next command meets the stored events: the workflow adopts them and decides again.
    note = cmd.AddNote(command_id=uuid.uuid4(), actor="ana", at=NOW, text="called the shelter")
    result = await h.commands.send(case_id, note)
    assert result.version == lost_version + 1 and result.events == ["NoteAdded"]
    # The lost command's own retry is answered from the adopted events, not applied again.
    retried = await h.commands.send(case_id, lost)
    assert retried.version == lost_version and retried.events[0] == "StepCompleted"

    types = assert_stream_intact(h, case_id)
    assert types.count("StepCompleted") == 1 and types[-1] == "NoteAdded"
    state = await h.commands.current(case_id)
    assert state == evolve_all(CaseState(), h.store.read_stream(case_id))
    await h.commands.send(case_id, step("shelter", "start"))  # and the case goes on
    assert_stream_intact(h, case_id)


async def test_command_refused_by_adopted_events_gets_its_code(harness: CaseHarness) -> None:
    h = harness
    open_cmd = opening()
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    await stored_by_lost_task(
        h, case_id, step("identification", "complete", outcome="confirmed_victim")
    )
    # Valid on the workflow's view, refused once the stored events are adopted.
    with pytest.raises(CommandRefused) as refused:
        await h.commands.send(case_id, step("identification", "complete", outcome="not_a_victim"))
    assert refused.value.code == "step_final"
    types = assert_stream_intact(h, case_id)
    assert types.count("StepCompleted") == 1


def test_every_command_has_its_update() -> None:
    """The gateway sends a command to the update named after its kind."""
    from typing import get_args

    from amparo.cases import PersonCommand
    from workflows.case import ProtectionCaseWorkflow

    kinds = {c.model_fields["kind"].default for c in get_args(PersonCommand)} | {"open_case"}
    assert all(callable(getattr(ProtectionCaseWorkflow, kind, None)) for kind in kinds)

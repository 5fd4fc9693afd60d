"""Escalation on the time-skipping server: on time, once each, to whoever holds the case now."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from argon2 import PasswordHasher

from amparo.users import Role, UserDirectory
from domain import commands as cmd
from domain.vocabulary import Step
from store.notifications import Inbox
from store.supervision import StuckItem, SupervisionReads
from tests.workflows.conftest import CaseHarness
from tests.workflows.test_case_workflow import NOW, opening, step

QUICK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def kinds(inbox: Inbox, user: str) -> list[tuple[str, str]]:
    return sorted((n.kind, str(n.params.get("step"))) for n in inbox.list(user, limit=200))


async def test_overdue_and_escalation_notify_the_current_assignment(harness: CaseHarness) -> None:
    h = harness
    engine = h.store._engine
    users = UserDirectory(engine, hasher=QUICK)
    for name, role, institution in [
        ("ana", Role.CASEWORKER, "pett"), ("sofia", Role.SUPERVISOR, "pett"),
        ("luis", Role.CASEWORKER, "oim"), ("miguel", Role.SUPERVISOR, "oim"),
    ]:  # fmt: skip
        users.add(name, role=role, password="long enough password", institution=institution)
    inbox = Inbox(engine)
    open_cmd = opening(institution="pett")
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    await h.commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))

    await h.env.sleep(timedelta(days=1, minutes=1))  # shelter overdue
    assert kinds(inbox, "sofia") == [("step_overdue", "shelter")]
    assert kinds(inbox, "ana") == [("step_overdue", "shelter")]
    await h.env.sleep(timedelta(days=1))  # shelter escalated at twice its SLA
    assert kinds(inbox, "sofia") == [("step_escalated", "shelter"), ("step_overdue", "shelter")]

    reassign = cmd.AssignCase(
        command_id=uuid.uuid4(), actor="sofia", at=NOW, caseworker="luis", institution="oim"
    )
    await h.commands.send(case_id, reassign)
    await h.env.sleep(timedelta(days=1, minutes=5))  # health (3 days) overdue: the new team
    assert kinds(inbox, "miguel") == [("step_overdue", "health")]
    assert kinds(inbox, "luis") == [("step_overdue", "health")]
    assert ("step_overdue", "health") not in kinds(inbox, "sofia")
    assert len(inbox.list("sofia", limit=200)) == 2  # nothing more, nothing twice


async def test_shelter_on_the_board_at_its_due_time_acknowledged_until_it_moves(
    harness: CaseHarness,
) -> None:
    h = harness
    engine = h.engine
    board = SupervisionReads(engine)
    open_cmd = opening(institution="pett")
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    await h.commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))
    due = (await h.commands.current(case_id)).steps[Step.SHELTER].due_at

    def shelter_items(now: datetime) -> list[StuckItem]:
        items = board.stuck("pett", now, step=Step.SHELTER).items
        return [i for i in items if i.case_id == case_id]

    await h.env.sleep(due - await h.env.get_current_time() - timedelta(seconds=1))
    assert shelter_items(await h.env.get_current_time()) == []
    await h.env.sleep(timedelta(seconds=2))
    [item] = shelter_items(await h.env.get_current_time())
    assert item.reason == "overdue"
    assert item.since == due
    assert not item.acknowledged

    acknowledge = cmd.AcknowledgeOverdue(
        command_id=uuid.uuid4(), actor="sofia", at=NOW, step="shelter", note="hogar sin cupo"
    )
    await h.commands.send(case_id, acknowledge)
    [item] = shelter_items(await h.env.get_current_time())
    assert item.acknowledged
    await h.commands.send(case_id, step("shelter", "complete"))
    assert shelter_items(await h.env.get_current_time()) == []

"""Visa renewals on the time-skipping server: years of reminders, on their dates, once each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from amparo.cases import CommandRefused
from amparo.settings import Settings
from amparo.users import Role, UserDirectory
from domain import commands as cmd
from domain.ids import derived_id
from domain.visas import VisaPolicy, alert_at, lapses_at
from domain.vocabulary import VisaKind, VisaState
from store.notifications import Inbox
from tests.workflows.conftest import CaseHarness
from tests.workflows.test_case_workflow import (
    HISTORIES,
    NOW,
    assert_stream_intact,
    opening,
    save_history,
    step,
)
from worker import build_worker
from workflows.contracts import visa_workflow_id

QUICK = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
POLICY = VisaPolicy()


def team(h: CaseHarness) -> Inbox:
    users = UserDirectory(h.engine, hasher=QUICK)
    for name, role in [("ana", Role.CASEWORKER), ("sofia", Role.SUPERVISOR)]:
        users.add(name, role=role, password="long enough password", institution="pett")
    return Inbox(h.engine)


def visa_notices(inbox: Inbox, user: str) -> list[tuple[str, str, str]]:
    """(kind, expires_on, days) of the visa notifications in `user`'s inbox."""
    return sorted(
        (n.kind, str(n.params.get("expires_on")), str(n.params.get("days", "")))
        for n in inbox.list(user, limit=500)
        if n.kind.startswith("visa_")
    )


async def eventually(check: Callable[[], bool], what: str) -> None:
    """The notify activity runs after the event is stored: give it a moment."""
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def sleep_until(h: CaseHarness, moment: datetime) -> None:
    delay = moment - await h.env.get_current_time()
    if delay > timedelta(0):
        await h.env.sleep(delay)


async def open_case_with_visa(h: CaseHarness, expires_on: date) -> tuple[uuid.UUID, uuid.UUID]:
    open_cmd = opening(institution="pett")
    await h.commands.open(open_cmd)
    await h.commands.send(
        open_cmd.case_id, step("identification", "complete", outcome="confirmed_victim")
    )
    today = (await h.env.get_current_time()).date()
    register = cmd.RegisterVisa(
        command_id=uuid.uuid4(),
        actor="ana",
        at=NOW,
        visa_kind=VisaKind.RESIDENCE,
        number="R-2026-0042",
        issued_on=today,
        expires_on=expires_on,
    )
    result = await h.commands.send(open_cmd.case_id, register)
    assert result.events == ["VisaRegistered"]
    return open_cmd.case_id, derived_id(register.command_id, "visa")


async def test_residence_visa_renewed_three_times_then_lapses(harness: CaseHarness) -> None:
    h = harness
    inbox = team(h)
    now = await h.env.get_current_time()
    expires = (now + timedelta(days=365)).date()
    case_id, visa_id = await open_case_with_visa(h, expires)
    expected_ana: list[tuple[str, str, str]] = []
    expected_sofia: list[tuple[str, str, str]] = []

    for year in range(4):
        for days in POLICY.reminder_days:
            due = alert_at(expires, days, POLICY)
            await sleep_until(h, due - timedelta(minutes=1))
            assert visa_notices(inbox, "ana") == sorted(expected_ana), f"early, {days} days"
            await h.env.sleep(timedelta(minutes=2))
            notice = ("visa_expiring", expires.isoformat(), str(days))
            expected_ana.append(notice)
            if days <= POLICY.supervisor_within_days:
                expected_sofia.append(notice)
            await eventually(
                lambda: visa_notices(inbox, "ana") == sorted(expected_ana),
                f"year {year}: the {days}-day reminder",
            )
            assert visa_notices(inbox, "sofia") == sorted(expected_sofia)
        if year == 3:
            break
        renewed = expires + timedelta(days=365)
        renewal = cmd.RenewVisa(
            command_id=uuid.uuid4(), actor="ana", at=NOW, visa_id=visa_id, expires_on=renewed
        )
        assert (await h.commands.send(case_id, renewal)).events == ["VisaRenewed"]
        expires = renewed

    # The fourth year is not renewed: the visa lapses, is recorded and escalated.
    await sleep_until(h, lapses_at(expires) + timedelta(minutes=1))
    expired = ("visa_expired", expires.isoformat(), "")
    await eventually(lambda: expired in visa_notices(inbox, "sofia"), "the expiry")
    assert visa_notices(inbox, "ana") == sorted([*expected_ana, expired])
    assert visa_notices(inbox, "sofia") == sorted([*expected_sofia, expired])

    types = assert_stream_intact(h, case_id)
    assert types.count("VisaReminderSent") == 16
    assert types.count("VisaRenewed") == 3 and types.count("VisaExpired") == 1
    reminders = [e for e in h.store.read_stream(case_id) if e.type == "VisaReminderSent"]
    for event in reminders:  # each on its exact date and hour
        data = event.data
        due = alert_at(data.expires_on, data.days, POLICY)  # type: ignore[union-attr]
        assert due <= event.occurred_at < due + timedelta(minutes=1)
    state = await h.commands.current(case_id)
    assert state.visas[visa_id].state is VisaState.EXPIRED
    # It stays followed (stuck) until renewed late or cancelled.
    description = await h.env.client.get_workflow_handle(visa_workflow_id(visa_id)).describe()
    assert description.status is not None and description.status.name == "RUNNING"


async def test_late_registration_gets_one_reminder_now_and_those_ahead(
    harness: CaseHarness,
) -> None:
    h = harness
    inbox = team(h)
    now = await h.env.get_current_time()
    expires = (now + timedelta(days=20)).date()
    case_id, visa_id = await open_case_with_visa(h, expires)
    left = str((expires - now.date()).days)
    await eventually(
        lambda: visa_notices(inbox, "ana") == [("visa_expiring", expires.isoformat(), left)],
        "the catch-up reminder",
    )
    await sleep_until(h, alert_at(expires, 7, POLICY) + timedelta(minutes=1))
    await eventually(lambda: len(visa_notices(inbox, "ana")) == 2, "the 7-day reminder")
    assert [d for _, _, d in visa_notices(inbox, "ana")] == sorted([left, "7"])
    sent = [e.data for e in h.store.read_stream(case_id) if e.type == "VisaReminderSent"]
    assert sorted(d.days for d in sent) == sorted([7, int(left)])  # type: ignore[union-attr]
    assert not {90, 60, 30} & {d.days for d in sent}  # type: ignore[union-attr]
    await save_history(h, case_id, "case_with_visa")
    visa = await h.env.client.get_workflow_handle(visa_workflow_id(visa_id)).fetch_history()
    target = HISTORIES / "visa_renewal.json"
    if not target.exists():
        target.write_text(visa.to_json())


async def test_worker_lost_between_reminders_misses_and_doubles_nothing(
    harness: CaseHarness,
) -> None:
    """Workers that keep nothing in memory (each task replays the history), replaced by a
    fresh one between reminders: every reminder once, none missed.

    (A worker cannot simply vanish here: the time-skipping server stops its clock while a
    task waits on a gone worker's sticky queue, so these workers keep no sticky cache.)
    """
    h = harness
    await h.worker_stop()
    inbox = team(h)
    settings = Settings(task_queue=h.task_queue, database_url=str(h.engine.url))
    forgetful = {"engine": h.engine, "max_cached_workflows": 0}
    now = await h.env.get_current_time()
    expires = (now + timedelta(days=200)).date()
    async with build_worker(h.env.client, settings, h.store, **forgetful):  # type: ignore[arg-type]
        case_id, _ = await open_case_with_visa(h, expires)
        await sleep_until(h, alert_at(expires, 90, POLICY) + timedelta(minutes=1))
        await eventually(lambda: len(visa_notices(inbox, "ana")) == 1, "the 90-day reminder")
        await h.env.sleep(timedelta(minutes=1))
    async with build_worker(h.env.client, settings, h.store, **forgetful):  # type: ignore[arg-type]
        await sleep_until(h, alert_at(expires, 30, POLICY) + timedelta(hours=1))
        await eventually(lambda: len(visa_notices(inbox, "ana")) == 3, "60 and 30 days")
        await sleep_until(h, alert_at(expires, 7, POLICY) + timedelta(minutes=1))
        await eventually(lambda: len(visa_notices(inbox, "ana")) == 4, "the 7-day reminder")
        assert [d for _, _, d in visa_notices(inbox, "ana")] == sorted(["90", "60", "30", "7"])
        types = assert_stream_intact(h, case_id)
        assert types.count("VisaReminderSent") == 4
        await h.commands.terminate_all()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            {"issued_on": date(2026, 6, 1), "expires_on": date(2026, 5, 1)},
            "visa_expiry_before_issue",
        ),
        ({"issued_on": date(2099, 1, 1), "expires_on": date(2100, 1, 1)}, "visa_issued_in_future"),
        ({"issued_on": date(2020, 1, 1), "expires_on": date(2021, 1, 1)}, "visa_already_expired"),
    ],
)
async def test_invalid_visa_is_refused_and_records_nothing(
    harness: CaseHarness, change: dict[str, date], code: str
) -> None:
    h = harness
    open_cmd = opening()
    await h.commands.open(open_cmd)
    before = assert_stream_intact(h, open_cmd.case_id)
    fields = {
        "command_id": uuid.uuid4(),
        "actor": "ana",
        "at": NOW,
        "visa_kind": "work",
        "number": "W-1",
    }
    with pytest.raises(CommandRefused) as refused:
        await h.commands.send(open_cmd.case_id, cmd.RegisterVisa.model_validate(fields | change))
    assert refused.value.code == code
    assert assert_stream_intact(h, open_cmd.case_id) == before


async def test_renewal_of_a_cancelled_visa_is_refused(harness: CaseHarness) -> None:
    h = harness
    now = await h.env.get_current_time()
    case_id, visa_id = await open_case_with_visa(h, (now + timedelta(days=300)).date())
    cancel = cmd.CancelVisa(
        command_id=uuid.uuid4(), actor="ana", at=NOW, visa_id=visa_id, reason="returned home"
    )
    await h.commands.send(case_id, cancel)
    before = assert_stream_intact(h, case_id)
    renewal = cmd.RenewVisa(
        command_id=uuid.uuid4(),
        actor="ana",
        at=NOW,
        visa_id=visa_id,
        expires_on=(now + timedelta(days=700)).date(),
    )
    with pytest.raises(CommandRefused) as refused:
        await h.commands.send(case_id, renewal)
    assert refused.value.code == "visa_cancelled"
    assert assert_stream_intact(h, case_id) == before
    handle = h.env.client.get_workflow_handle(visa_workflow_id(visa_id))
    assert await handle.result() == "cancelled"  # its timers end with it

"""Faults beyond worker crashes: conflicting commands, a restarted Temporal, a locked database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.chaos.conftest import ChaosStack, assert_exactly_once
from tests.chaos.test_worker_kills import STEPS, expected_types, opening, until_answered

OPENED = ["CaseOpened", "CaseAssigned", "ConsentGiven", "StepOpened"]
IDENTIFIED = ["StepCompleted", "StepOpened", "StepOpened", "StepOpened", "StepOpened"]


async def open_identified(http: httpx.AsyncClient) -> str:
    case_id: str = (await http.post("/cases", json=opening(0))).json()["case_id"]
    identified = await http.post(f"/cases/{case_id}/steps/{STEPS[0][0]}", json=STEPS[0][1])
    assert identified.status_code == 200, identified.text
    return case_id


def keys(count: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(count)]


async def test_fifty_concurrent_conflicting_commands(chaos: ChaosStack) -> None:
    async with chaos.client() as http:
        case_id = await open_identified(http)
        # Under load some get "pending" (503): like any client, they retry with their key.
        shelter = f"/cases/{case_id}/steps/shelter"
        answers = await asyncio.gather(
            *(until_answered(http, shelter, {"action": "complete"}, str(k)) for k in keys(50))
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 49
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"step_final"}
    assert_exactly_once(chaos.store, uuid.UUID(case_id), [*OPENED, *IDENTIFIED, "StepCompleted"])


async def test_temporal_restart_in_the_middle_of_a_run(chaos: ChaosStack) -> None:
    async def walk(http: httpx.AsyncClient, n: int) -> uuid.UUID:
        key = uuid.uuid4()
        opened = await until_answered(http, "/cases", opening(n), str(key))
        case_id = uuid.UUID(opened.json()["case_id"])
        for index, (step, body) in enumerate(STEPS):
            await asyncio.sleep(0.05)
            answer = await until_answered(
                http, f"/cases/{case_id}/steps/{step}", body, str(uuid.uuid5(key, str(index)))
            )
            assert answer.status_code == 200, answer.text
        return case_id

    async def restart() -> None:
        await asyncio.sleep(1.5)
        await chaos.server.stop()
        await asyncio.sleep(1.0)
        await chaos.server.start()

    async with chaos.client() as http:
        results = await asyncio.gather(restart(), *(walk(http, n) for n in range(10)))
    expected = expected_types()
    for case_id in results[1:]:
        assert isinstance(case_id, uuid.UUID)
        assert_exactly_once(chaos.store, case_id, expected)


def hold_database(path: str, seconds: float, locked: threading.Event) -> None:
    """Take SQLite's write lock and keep it: to Amparo the event store is unavailable."""
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    locked.set()
    time.sleep(seconds)
    conn.rollback()
    conn.close()


@pytest.mark.parametrize(
    "outage", [pytest.param(8.0, id="short"), pytest.param(30.0, id="full", marks=pytest.mark.slow)]
)
@pytest.mark.timeout(600)
async def test_event_database_unavailable(chaos: ChaosStack, outage: float) -> None:
    path = chaos.settings.effective_database_url.removeprefix("sqlite:///")
    async with chaos.client() as http:
        case_id = await open_identified(http)
        locked = threading.Event()
        holder = threading.Thread(target=hold_database, args=(path, outage, locked))
        holder.start()
        locked.wait()
        sent: list[tuple[str, dict[str, Any], str]] = [
            (f"/cases/{case_id}/steps/{step}", {"action": "start"}, str(uuid.uuid4()))
            for step in ("shelter", "health", "legal")
        ]
        answers = await asyncio.gather(
            *(http.post(p, json=b, headers={"Idempotency-Key": k}) for p, b, k in sent)
        )
        # While the store is down, commands answer clearly: pending, retry with the same key.
        assert {a.status_code for a in answers} == {503}
        assert {a.json()["code"] for a in answers} == {"command_pending"}
        await asyncio.to_thread(holder.join)
        for path_, body, key in sent:
            again = await until_answered(http, path_, body, key)
            assert again.status_code == 200, again.text
    started = ["StepStarted"] * 3
    assert_exactly_once(chaos.store, uuid.UUID(case_id), [*OPENED, *IDENTIFIED, *started])

"""The inbox over HTTP: each user lists and marks read their own notifications only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx

from store.notifications import Inbox
from tests.api.conftest import Api

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE = UUID("5d3e0f7a-1b2c-4d5e-8f90-a1b2c3d4e5f6")


def inbox(api: Api) -> Inbox:
    return Inbox(api.users._engine)  # the app's own database


def deliver(api: Api, recipients: list[str], minutes: int = 0, kind: str = "step_overdue") -> UUID:
    notification_id = uuid4()
    inbox(api).deliver(
        notification_id,
        recipients,
        case_id=CASE,
        kind=kind,
        params={"step": "health", "due_at": "2026-03-01T09:00:00+00:00"},
        at=T0 + timedelta(minutes=minutes),
    )
    return notification_id


def assert_problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code


async def test_each_user_lists_their_own_newest_first(api: Api) -> None:
    older = deliver(api, ["ana", "sofia"])
    newer = deliver(api, ["ana"], minutes=5, kind="case_assigned")
    theirs = deliver(api, ["luis"], minutes=10)

    async with api.client("ana") as ana, api.client("sofia") as sofia:
        mine = (await ana.get("/notifications")).json()
        hers = (await sofia.get("/notifications")).json()

    assert [n["notification_id"] for n in mine["items"]] == [str(newer), str(older)]
    assert mine["unread"] == 2
    first = mine["items"][1]
    assert first["case_id"] == str(CASE)
    assert first["kind"] == "step_overdue"
    assert first["params"]["step"] == "health"
    assert first["text"] == f"Paso vencido: salud del caso {CASE}"  # ana reads Spanish
    assert first["read_at"] is None
    assert [n["notification_id"] for n in hers["items"]] == [str(older)]
    assert str(theirs) not in {n["notification_id"] for n in mine["items"] + hers["items"]}


async def test_marking_read_marks_only_the_callers_own(api: Api) -> None:
    mine = deliver(api, ["ana"])
    shared = deliver(api, ["ana", "luis"], minutes=1)
    theirs = deliver(api, ["luis"], minutes=2)

    async with api.client("ana") as ana, api.client("luis") as luis:
        marked = await ana.post("/notifications/read", json={"ids": [str(mine), str(theirs)]})
        again = await ana.post("/notifications/read", json={"ids": [str(mine)]})
        unread = (await ana.get("/notifications", params={"unread": "true"})).json()
        everything = (await ana.get("/notifications")).json()
        luis_sees = (await luis.get("/notifications")).json()

    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 1}
    assert again.json() == {"marked": 0}
    assert [n["notification_id"] for n in unread["items"]] == [str(shared)]
    assert unread["unread"] == 1
    assert len(everything["items"]) == 2
    assert luis_sees["unread"] == 2  # ana's ids did nothing to luis's notifications
    assert {n["read_at"] for n in luis_sees["items"]} == {None}


async def test_the_list_is_limited(api: Api) -> None:
    for minutes in range(3):
        deliver(api, ["carmen"], minutes=minutes)
    async with api.client("carmen") as carmen:
        page = (await carmen.get("/notifications", params={"limit": 2})).json()
    assert len(page["items"]) == 2
    assert page["unread"] == 3


async def test_bad_requests_are_problems(api: Api) -> None:
    async with api.client("ana") as ana, api.client() as anonymous:
        too_many = {"ids": [str(uuid4()) for _ in range(201)]}
        assert_problem(await ana.post("/notifications/read", json=too_many), 422, "invalid_input")
        not_ids = {"ids": ["not-a-uuid"]}
        assert_problem(await ana.post("/notifications/read", json=not_ids), 422, "invalid_input")
        extra = {"ids": [], "all": True}
        assert_problem(await ana.post("/notifications/read", json=extra), 422, "invalid_input")
        limit = {"limit": 0}
        assert_problem(await ana.get("/notifications", params=limit), 422, "invalid_input")
        assert_problem(await anonymous.get("/notifications"), 401, "not_authenticated")
        marked = await anonymous.post("/notifications/read", json={"ids": []})
        assert_problem(marked, 401, "not_authenticated")

"""Visas through the API: register, list what expires soon, renew, cancel, refusals."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.api.conftest import Api, new_case

TODAY = date.today()


def visa(days_ahead: int, **changes: Any) -> dict[str, Any]:
    body = {
        "kind": "temporary_residence",
        "number": "CE-004512",
        "issued_on": (TODAY - timedelta(days=100)).isoformat(),
        "expires_on": (TODAY + timedelta(days=days_ahead)).isoformat(),
    }
    return body | changes


async def open_case(client: httpx.AsyncClient) -> str:
    opened = await client.post("/cases", json=new_case())
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def register(client: httpx.AsyncClient, case_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(f"/cases/{case_id}/visas", json=body)
    assert answer.status_code == 201, answer.text
    found: dict[str, Any] = answer.json()
    return found


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert (problem["status"], problem["code"]) == (status, code), problem
    return problem


async def recorded(client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    """The case's events and every visa its caseworker sees: what a refusal must not change."""
    events = (await client.get(f"/cases/{case_id}/events")).json()
    listed = (await client.get("/visas", params={"limit": 200})).json()
    return {"events": events, "visas": listed}


async def test_register_list_renew_cancel(api: Api) -> None:
    async with api.client("ana") as ana:
        case_id = await open_case(ana)
        soon = await register(ana, case_id, visa(20))
        later = await register(ana, case_id, visa(200, kind="work", number="W-77"))
        assert soon["case_id"] == case_id
        assert (soon["kind"], soon["state"], soon["number"]) == (
            "temporary_residence", "active", "CE-004512",
        )  # fmt: skip
        assert soon["expires_on"] == (TODAY + timedelta(days=20)).isoformat()
        assert (soon["renewals"], soon["last_reminder_days"]) == (0, None)

        expiring = (await ana.get("/visas", params={"expiring_within_days": 30})).json()
        assert [v["visa_id"] for v in expiring["items"]] == [soon["visa_id"]]
        every = (await ana.get("/visas", params={"case_id": case_id})).json()["items"]
        assert [v["visa_id"] for v in every] == [soon["visa_id"], later["visa_id"]]  # by expiry
        assert (await ana.get(f"/visas/{later['visa_id']}")).json() == later

        renewed = await ana.post(
            f"/visas/{soon['visa_id']}/renewal",
            json={"expires_on": (TODAY + timedelta(days=400)).isoformat(), "number": "CE-9"},
        )
        assert renewed.status_code == 200, renewed.text
        assert renewed.json() | {"renewals": 1, "number": "CE-9", "state": "active"} == (
            renewed.json()
        )
        expiring = (await ana.get("/visas", params={"expiring_within_days": 30})).json()
        assert expiring["items"] == []
        # The visa 20 days ahead got the 30-day reminder it missed at once, on its own time.
        types = [e["type"] for e in (await ana.get(f"/cases/{case_id}/events")).json()]
        assert (types.count("VisaRegistered"), types.count("VisaRenewed")) == (2, 1)

    async with api.client("sofia") as sofia:  # pett's supervisor sees them, number included
        listed = (await sofia.get("/visas")).json()["items"]
        assert {v["visa_id"]: v["number"] for v in listed} == {
            soon["visa_id"]: "CE-9", later["visa_id"]: "W-77",
        }  # fmt: skip
        cancelled = await sofia.post(
            f"/visas/{later['visa_id']}/cancellation", json={"reason": "returned home"}
        )
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["state"], cancelled.json()["cancelled_reason"]) == (
            "cancelled", "returned home",
        )  # fmt: skip
        only = (await sofia.get("/visas", params={"state": "cancelled"})).json()["items"]
        assert [v["visa_id"] for v in only] == [later["visa_id"]]
    for other in ("luis", "miguel"):  # neither the case nor its visas are theirs to see
        async with api.client(other) as client:
            assert (await client.get("/visas")).json()["items"] == []
            hidden = await client.get(f"/visas/{soon['visa_id']}")
            assert_problem(hidden, 404, "visa_not_found")


async def test_the_same_request_twice_registers_one_visa(api: Api) -> None:
    key = {"Idempotency-Key": "2b7d0a3c-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}
    async with api.client("ana") as ana:
        case_id = await open_case(ana)
        first = await ana.post(f"/cases/{case_id}/visas", json=visa(50), headers=key)
        again = await ana.post(f"/cases/{case_id}/visas", json=visa(50), headers=key)
        assert first.status_code == again.status_code == 201, again.text
        assert first.json() == again.json()
        events = (await ana.get(f"/cases/{case_id}/events")).json()
        assert [e["type"] for e in events].count("VisaRegistered") == 1


async def test_refusals_record_nothing(api: Api) -> None:
    async with api.client("ana") as ana:
        case_id = await open_case(ana)
        before = await recorded(ana, case_id)
        backwards = visa(-200, issued_on=(TODAY - timedelta(days=100)).isoformat())
        backwards["expires_on"] = (TODAY - timedelta(days=150)).isoformat()
        answer = await ana.post(f"/cases/{case_id}/visas", json=backwards)
        assert_problem(answer, 409, "visa_expiry_before_issue")
        answer = await ana.post(f"/cases/{case_id}/visas", json=visa(30, kind="tourist"))
        problem = assert_problem(answer, 422, "invalid_input")
        assert problem["detail"].startswith("kind: ")
        for bad in ({"expires_on": "next year"}, {"issued_on": "2025-02-30"}):
            answer = await ana.post(f"/cases/{case_id}/visas", json=visa(30, **bad))
            problem = assert_problem(answer, 422, "invalid_input")
            assert problem["detail"].startswith(f"{next(iter(bad))}: ")
        assert await recorded(ana, case_id) == before

        held = await register(ana, case_id, visa(150))  # no reminder due yet: nothing moves
        renewal = f"/visas/{held['visa_id']}/renewal"
        before = await recorded(ana, case_id)
        same = await ana.post(renewal, json={"expires_on": held["expires_on"]})
        assert_problem(same, 409, "visa_renewal_not_later")
        assert await recorded(ana, case_id) == before

        cancelled = await ana.post(
            f"/visas/{held['visa_id']}/cancellation", json={"reason": "revoked"}
        )
        assert cancelled.status_code == 200, cancelled.text
        before = await recorded(ana, case_id)
        later = (TODAY + timedelta(days=500)).isoformat()
        assert_problem(await ana.post(renewal, json={"expires_on": later}), 409, "visa_cancelled")
        assert await recorded(ana, case_id) == before


async def test_a_closed_case_keeps_following_its_visas(api: Api) -> None:
    async with api.client("ana") as ana:
        case_id = await open_case(ana)
        held = await register(ana, case_id, visa(40))
        asked = await ana.post(f"/cases/{case_id}/closure", json={"reason": "lost_contact"})
        assert asked.status_code == 200, asked.text
    async with api.client("sofia") as sofia:
        closed = await sofia.post(f"/cases/{case_id}/closure/decision", json={"approved": True})
        assert closed.json()["status"] == "closed"
    async with api.client("ana") as ana:
        later = (TODAY + timedelta(days=365)).isoformat()
        renewed = await ana.post(f"/visas/{held['visa_id']}/renewal", json={"expires_on": later})
        assert renewed.status_code == 200, renewed.text
        assert renewed.json()["expires_on"] == later
        refused = await ana.post(f"/cases/{case_id}/visas", json=visa(90))
        assert_problem(refused, 409, "case_closed")

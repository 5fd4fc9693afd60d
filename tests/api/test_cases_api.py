"""Opening and walking a case through the HTTP API, as a caseworker and a supervisor do."""

from __future__ import annotations

import uuid

from tests.api.conftest import Api, delivered, new_case


async def test_open_advance_and_read_your_writes(api: Api) -> None:
    async with api.client("ana") as ana:
        opened = await ana.post("/cases", json=new_case())
        assert opened.status_code == 201, opened.text
        case = opened.json()
        assert case["assigned_to"] == "ana"
        assert case["institution"] == "pett"
        assert case["person"]["family_name"] == "Peña"
        assert [s["step"] for s in case["steps"]] == ["identification"]
        case_id = case["case_id"]

        done = await ana.post(
            f"/cases/{case_id}/steps/identification",
            json={"action": "complete", "outcome": "confirmed_victim"},
        )
        assert done.status_code == 200, done.text
        assert [s["step"] for s in done.json()["steps"]] == [
            "identification", "shelter", "health", "legal", "documentation",
        ]  # fmt: skip
        read = await ana.get(f"/cases/{case_id}")
        assert read.json() == done.json()

        referred = await ana.post(
            f"/cases/{case_id}/steps/shelter",
            json={"action": "refer", "institution": "hogar-oblatas"},
        )
        shelter = next(s for s in referred.json()["steps"] if s["step"] == "shelter")
        assert shelter["state"] == "referred"
        assert shelter["institution"] == "hogar-oblatas"
        await delivered(api, shelter["referral_id"])

        events = (await ana.get(f"/cases/{case_id}/events")).json()
        assert [e["version"] for e in events] == list(range(1, len(events) + 1))
        assert {e["actor"] for e in events} == {"ana"}
        # hogar-oblatas is an inbox institution: delivered as it was referred.
        assert [e["type"] for e in events[-2:]] == ["StepReferred", "ReferralDelivered"]


async def test_refusal_is_409_with_the_domain_code_and_changes_nothing(api: Api) -> None:
    async with api.client("ana") as ana:
        case_id = (await ana.post("/cases", json=new_case())).json()["case_id"]
        before = (await ana.get(f"/cases/{case_id}/events")).json()
        refused = await ana.post(f"/cases/{case_id}/steps/shelter", json={"action": "start"})
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["code"] == "step_not_open"
        assert set(problem) >= {"type", "title", "status", "detail", "code"}
        assert (await ana.get(f"/cases/{case_id}/events")).json() == before


async def test_idempotency_key_applies_a_replayed_request_once(api: Api) -> None:
    key = str(uuid.uuid4())
    async with api.client("ana") as ana:
        first = await ana.post("/cases", json=new_case(), headers={"Idempotency-Key": key})
        again = await ana.post("/cases", json=new_case(), headers={"Idempotency-Key": key})
        assert first.status_code == again.status_code == 201
        assert first.json()["case_id"] == again.json()["case_id"]
        listed = (await ana.get("/cases")).json()["items"]
        assert [c["case_id"] for c in listed] == [first.json()["case_id"]]


async def test_supervisor_sees_institution_cases_caseworkers_only_their_own(api: Api) -> None:
    async with api.client("ana") as ana, api.client("luis") as luis:
        mine = (await ana.post("/cases", json=new_case())).json()["case_id"]
        theirs = (await luis.post("/cases", json=new_case())).json()["case_id"]
        assert (await ana.get(f"/cases/{theirs}")).status_code == 404
        assert [c["case_id"] for c in (await ana.get("/cases")).json()["items"]] == [mine]
    async with api.client("sofia") as sofia, api.client("miguel") as miguel:
        seen = {c["case_id"] for c in (await sofia.get("/cases")).json()["items"]}
        assert seen == {mine, theirs}
        assert (await miguel.get(f"/cases/{mine}")).status_code == 404
        moved = await sofia.post(f"/cases/{mine}/assignment", json={"caseworker": "luis"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["assigned_to"] == "luis"
    async with api.client("ana") as ana:
        assert (await ana.get(f"/cases/{mine}")).status_code == 404


async def test_closure_needs_the_supervisor(api: Api) -> None:
    async with api.client("ana") as ana:
        case_id = (await ana.post("/cases", json=new_case())).json()["case_id"]
        await ana.post(
            f"/cases/{case_id}/steps/identification",
            json={"action": "decline", "reason": "the person refused the interview"},
        )
        asked = await ana.post(f"/cases/{case_id}/closure", json={"reason": "path_completed"})
        assert asked.json()["status"] == "closure_requested"
        assert (
            await ana.post(f"/cases/{case_id}/closure/decision", json={"approved": True})
        ).status_code == 403
    async with api.client("sofia") as sofia:
        closed = await sofia.post(f"/cases/{case_id}/closure/decision", json={"approved": True})
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
        again = await sofia.post(f"/cases/{case_id}/closure/decision", json={"approved": True})
        assert again.status_code == 409
        assert again.json()["code"] == "case_closed"


async def test_errors_are_problems(api: Api) -> None:
    async with api.client() as anonymous:
        missing = await anonymous.get("/cases")
        assert missing.status_code == 401
        assert missing.json()["code"] == "not_authenticated"
        assert (await anonymous.get("/nowhere")).json()["code"] == "not_found"
        assert (await anonymous.get("/healthz")).json()["status"] == "ok"
    async with api.client("ana") as ana:
        bad = await ana.post("/cases", json=new_case(person={"given_name": "X"}))
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_input"
        assert "person.family_name" in bad.json()["detail"]
        huge = await ana.post("/cases/" + str(uuid.uuid4()) + "/notes", content=b"x" * 100_000)
        assert huge.status_code == 413
        assert (await ana.get("/cases", params={"limit": 0})).status_code == 422
    async with api.client("analista") as analyst:
        assert (await analyst.get("/cases")).status_code == 403


async def test_name_search_ignores_accents_and_case_within_visible_cases(api: Api) -> None:
    async with api.client("ana") as ana, api.client("luis") as luis:
        pena = (await ana.post("/cases", json=new_case())).json()["case_id"]
        other = new_case(person={"given_name": "Jean", "family_name": "Joseph", "sex": "male",
                                 "nationality": "HT"})  # fmt: skip
        await ana.post("/cases", json=other)
        hidden = (await luis.post("/cases", json=new_case())).json()["case_id"]
        for query in ("pena", "PEÑA", "rosa peña", "Rosa"):
            found = (await ana.get("/cases", params={"q": query})).json()["items"]
            assert [c["case_id"] for c in found] == [pena], query
        assert (await ana.get("/cases", params={"q": "maria"})).json()["items"] == []
        # luis's Rosa Peña is not ana's to find; luis finds only his own.
        found = (await luis.get("/cases", params={"q": "peña"})).json()["items"]
        assert [c["case_id"] for c in found] == [hidden]


async def test_opening_tells_of_a_person_identified_before(api: Api) -> None:
    async with api.client("ana") as ana:
        first = (await ana.post("/cases", json=new_case())).json()
        assert first["possible_duplicates"] == []
        second = (await ana.post("/cases", json=new_case(crime_type="smuggling"))).json()
        assert second["possible_duplicates"] == [first["case_id"]]
        other_birthday = new_case()
        other_birthday["person"] = {**new_case()["person"], "birth_date": "1991-04-02"}  # type: ignore[dict-item]
        assert (await ana.post("/cases", json=other_birthday)).json()["possible_duplicates"] == []
    async with api.client("carmen") as carmen:  # another institution: not visible
        assert (await carmen.post("/cases", json=new_case())).json()["possible_duplicates"] == []

"""The supervisor's board through the API: overdue steps with reasons, workload, closures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.conftest import Api, new_case


async def test_board_shows_backdated_overdue_work_and_acknowledgement(api: Api) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    async with api.client("ana") as ana:
        case_id = (await ana.post("/cases", json=new_case(occurred_at=long_ago))).json()["case_id"]
        identified = await ana.post(
            f"/cases/{case_id}/steps/identification",
            json={"action": "complete", "outcome": "confirmed_victim", "occurred_at": long_ago},
        )
        assert identified.status_code == 200, identified.text
    async with api.client("sofia") as sofia:
        board = (await sofia.get("/supervision/stuck")).json()["items"]
        mine = [i for i in board if i["case_id"] == case_id]
        # Every assistance step opened ten days ago: shelter (1 day), health (3 days) overdue.
        assert {(i["step"], i["reason"]) for i in mine} == {
            ("shelter", "overdue"), ("health", "overdue"),
        }  # fmt: skip
        assert [i["step"] for i in mine] == ["shelter", "health"]  # most overdue first
        only = (await sofia.get("/supervision/stuck", params={"step": "health"})).json()
        assert {i["step"] for i in only["items"]} == {"health"}
        load = (await sofia.get("/supervision/workload")).json()
        ana = next(w for w in load if w["caseworker"] == "ana")
        assert (ana["open_cases"], ana["open_steps"], ana["overdue_steps"]) == (1, 4, 2)
    async with api.client("miguel") as miguel:  # another institution sees none of it
        assert (await miguel.get("/supervision/stuck")).json()["items"] == []
    async with api.client("ana") as ana:
        assert (await ana.get("/supervision/stuck")).status_code == 403


async def test_closures_awaiting_a_decision(api: Api) -> None:
    async with api.client("ana") as ana:
        case_id = (await ana.post("/cases", json=new_case())).json()["case_id"]
        await ana.post(
            f"/cases/{case_id}/closure", json={"reason": "lost_contact", "note": "no answer"}
        )
    async with api.client("sofia") as sofia:
        waiting = (await sofia.get("/supervision/closures")).json()
        assert [(c["case_id"], c["reason"], c["requested_by"]) for c in waiting] == [
            (case_id, "lost_contact", "ana")
        ]


async def test_waiting_step_turns_stale_and_leaves_the_board_when_it_moves(api: Api) -> None:
    now = datetime.now(UTC)
    opened = (now - timedelta(days=40)).isoformat()
    started = (now - timedelta(days=31)).isoformat()
    async with api.client("ana") as ana:
        case_id = (await ana.post("/cases", json=new_case(occurred_at=opened))).json()["case_id"]
        await ana.post(
            f"/cases/{case_id}/steps/identification",
            json={"action": "complete", "outcome": "confirmed_victim", "occurred_at": opened},
        )
        legal = await ana.post(
            f"/cases/{case_id}/steps/legal", json={"action": "start", "occurred_at": started}
        )
        assert legal.status_code == 200, legal.text
    async with api.client("sofia") as sofia:
        stale = (await sofia.get("/supervision/stuck", params={"reason": "stale"})).json()
        assert [(i["case_id"], i["step"]) for i in stale["items"]] == [(case_id, "legal")]
        since = datetime.fromisoformat(stale["items"][0]["since"])
        assert abs(since - (now - timedelta(days=1))) < timedelta(minutes=1)
    async with api.client("ana") as ana:
        await ana.post(f"/cases/{case_id}/steps/legal", json={"action": "complete"})
    async with api.client("sofia") as sofia:
        board = (await sofia.get("/supervision/stuck")).json()["items"]
        assert "legal" not in {i["step"] for i in board if i["case_id"] == case_id}

"""Erasing a person through the API: the admin erases a closed case; its path stays, the
person's names, notes and visa number read as erased everywhere, at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from domain.personal import ERASED
from tests.api.conftest import Api, new_case

NOTE = "Vive con su tía en Los Alcarrizos"


async def closed_case(api: Api, *, visa: bool) -> str:
    async with api.client("ana") as ana, api.client("sofia") as sofia:
        case_id: str = (await ana.post("/cases", json=new_case())).json()["case_id"]
        steps = f"/cases/{case_id}/steps"
        done = await ana.post(
            f"{steps}/identification", json={"action": "complete", "outcome": "confirmed_victim"}
        )
        assert done.status_code == 200, done.text
        assert (await ana.post(f"/cases/{case_id}/notes", json={"text": NOTE})).status_code == 200
        if visa:
            body = {"kind": "residence", "number": "RES-4471-X", "issued_on": "2026-01-05",
                    "expires_on": "2027-01-05"}  # fmt: skip
            assert (await ana.post(f"/cases/{case_id}/visas", json=body)).status_code == 201
        asked = await ana.post(f"/cases/{case_id}/closure", json={"reason": "lost_contact"})
        assert asked.status_code == 200, asked.text
        decided = await sofia.post(f"/cases/{case_id}/closure/decision", json={"approved": True})
        assert decided.json()["status"] == "closed", decided.text
    return case_id


async def seen_by_supervisor(api: Api, case_id: str) -> dict[str, Any]:
    async with api.client("sofia") as sofia:
        return {
            "case": (await sofia.get(f"/cases/{case_id}")).json(),
            "events": (await sofia.get(f"/cases/{case_id}/events")).json(),
            "visas": (await sofia.get("/visas", params={"case_id": case_id})).json()["items"],
        }


def path_of(case: dict[str, Any]) -> dict[str, Any]:
    """What statistics and the board use: everything but the person and the version."""
    return {k: v for k, v in case.items() if k not in {"person", "version", "last_event_at"}}


async def test_the_admin_erases_a_closed_case_whatever_its_workflow_does(api: Api) -> None:
    # With a visa its workflow still runs (it follows the visa); without, it has ended.
    for visa in (True, False):
        case_id = await closed_case(api, visa=visa)
        before = await seen_by_supervisor(api, case_id)
        assert before["case"]["person"]["given_name"] == "Rosa"
        async with api.client("admin") as admin, api.client("sofia") as sofia:
            refused = await sofia.post(f"/cases/{case_id}/erasure", json={"reason": "request"})
            assert refused.status_code == 403
            erased = await admin.post(f"/cases/{case_id}/erasure", json={"reason": "request"})
            assert erased.status_code == 200, erased.text
            again = await admin.post(f"/cases/{case_id}/erasure", json={"reason": "request"})
            assert (again.status_code, again.json()["code"]) == (409, "person_erased")
        after = await seen_by_supervisor(api, case_id)
        person = after["case"]["person"]
        assert (person["given_name"], person["family_name"], person["birth_date"]) == (
            ERASED,
            ERASED,
            None,
        )
        assert (person["sex"], person["nationality"]) == ("female", "VE")
        assert path_of(after["case"]) == path_of(before["case"]), "the path and its statistics"
        notes = [e["data"]["text"] for e in after["events"] if e["type"] == "NoteAdded"]
        assert notes == [ERASED]
        opened = next(e for e in after["events"] if e["type"] == "CaseOpened")
        assert opened["data"]["person"]["given_name"] == ERASED
        assert after["events"][-1]["type"] == "PersonErased"
        if visa:
            (shown,) = after["visas"]
            assert (shown["number"], shown["state"]) == (ERASED, "cancelled")
        with api.store.engine.connect() as conn:
            dump = " ".join(
                repr(tuple(row))
                for table in ("events", "cases", "case_steps", "visas")
                for row in conn.execute(text(f"SELECT * FROM {table}"))
            )
        assert NOTE not in dump and "RES-4471-X" not in dump and "Peña" not in dump


async def test_an_open_case_is_not_erased(api: Api) -> None:
    async with api.client("ana") as ana, api.client("admin") as admin:
        case_id = (await ana.post("/cases", json=new_case())).json()["case_id"]
        refused = await admin.post(f"/cases/{case_id}/erasure", json={"reason": "request"})
    assert (refused.status_code, refused.json()["code"]) == (409, "case_not_closed")

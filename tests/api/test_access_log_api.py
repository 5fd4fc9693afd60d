"""The access log through the API: each read of a person's data and each failed sign-in is
recorded once, with who, when and which case; the case's supervisor reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from store.access_log import Access, AccessLog
from tests.api.conftest import Api, delivered
from tests.api.test_referrals_api import identified, refer

IN_A_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
VISA = {"kind": "work", "number": "W-77", "issued_on": "2025-01-02", "expires_on": IN_A_YEAR}


def _log(api: Api) -> AccessLog:
    return AccessLog(api.users._engine)  # the app's own database


async def _supervisor_sees(api: Api, case_id: str, **params: Any) -> dict[str, Any]:
    async with api.client("sofia") as sofia:
        answer = await sofia.get(f"/cases/{case_id}/access-log", params=params)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


def _recorded(entries: list[dict[str, Any]], since: datetime) -> list[tuple[str, str, str]]:
    """(username, kind, path) of each entry, oldest first; each within the test's time."""
    now = datetime.now(UTC)
    for entry in entries:
        assert since <= datetime.fromisoformat(entry["at"]) <= now, entry
        assert set(entry) == {"at", "username", "kind", "path"}, entry
    return [(e["username"], e["kind"], e["path"]) for e in reversed(entries)]


async def test_each_read_of_the_person_is_recorded_once(api: Api) -> None:
    started = datetime.now(UTC)
    case_id = await identified(api)  # opening and commands read nothing back into the log
    referral_id = await refer(api, case_id)
    await delivered(api, referral_id)  # sofia reads it: no person shown to her
    async with api.client("ana") as ana:
        visa = await ana.post(f"/cases/{case_id}/visas", json=VISA)
        assert visa.status_code == 201, visa.text
        visa_id = visa.json()["visa_id"]
        assert (await _supervisor_sees(api, case_id))["items"] == []

        assert (await ana.get(f"/cases/{case_id}")).status_code == 200
        assert (await ana.get(f"/cases/{case_id}/events")).status_code == 200
        shown = await ana.get(f"/visas/{visa_id}")
        assert shown.json()["number"] == "W-77"
    async with api.client("hogar") as hogar:
        referral = await hogar.get(f"/referrals/{referral_id}")
        assert referral.json()["person"], referral.text

    entries = (await _supervisor_sees(api, case_id))["items"]
    assert _recorded(entries, started) == [
        ("ana", "case_read", f"/cases/{case_id}"),
        ("ana", "events_read", f"/cases/{case_id}/events"),
        ("ana", "visa_read", f"/visas/{visa_id}"),
        ("hogar", "referral_read", f"/referrals/{referral_id}"),
    ]
    # The supervisor's own reading of the log records nothing; her reads of the case do.
    assert len((await _supervisor_sees(api, case_id))["items"]) == 4


async def test_lists_record_once_per_case_shown(api: Api) -> None:
    started = datetime.now(UTC)
    first, second = await identified(api), await identified(api)
    for case_id in (first, second):
        await delivered(api, await refer(api, case_id))
    async with api.client("hogar") as hogar:
        listed = (await hogar.get("/referrals", params={"limit": 200})).json()["items"]
        assert len(listed) == 2 and all(r["person"] for r in listed)
    async with api.client("ana") as ana:
        await ana.post(f"/cases/{first}/visas", json=VISA)
        await ana.post(f"/cases/{first}/visas", json=VISA | {"number": "W-78"})
        assert len((await ana.get("/visas", params={"case_id": first})).json()["items"]) == 2
        listed = (await ana.get("/cases", params={"q": "peña"})).json()["items"]
        assert {c["case_id"] for c in listed} == {first, second}
    assert _recorded((await _supervisor_sees(api, first))["items"], started) == [
        ("hogar", "referral_read", "/referrals"),
        ("ana", "visa_read", "/visas"),  # two visas of the case shown: one entry
        ("ana", "case_read", "/cases"),  # never the query string (a name search)
    ]
    assert _recorded((await _supervisor_sees(api, second))["items"], started) == [
        ("hogar", "referral_read", "/referrals"),
        ("ana", "case_read", "/cases"),
    ]


async def test_failed_sign_ins_are_recorded_with_the_name_tried(api: Api) -> None:
    started = datetime.now(UTC)
    async with api.client() as anonymous:
        for name, password in (("ana", "not her password"), ("nadie.aqui", "whatever")):
            answer = await anonymous.post(
                "/auth/token", data={"username": name, "password": password}
            )
            assert answer.status_code == 401, answer.text
    failed: list[Access] = _log(api).failed_logins(since=started)
    assert sorted(e.username for e in failed) == ["ana", "nadie.aqui"]
    assert all(e.case_id is None and e.kind == "login_failed" for e in failed)
    assert all(started <= e.at <= datetime.now(UTC) for e in failed)


async def test_the_log_is_paged_newest_first(api: Api) -> None:
    case_id = await identified(api)
    async with api.client("ana") as ana:
        for _ in range(5):
            assert (await ana.get(f"/cases/{case_id}")).status_code == 200
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _supervisor_sees(
            api, case_id, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == 5
    assert [e["at"] for e in seen] == sorted((e["at"] for e in seen), reverse=True)
    async with api.client("sofia") as sofia:
        bad = await sofia.get(f"/cases/{case_id}/access-log", params={"cursor": "nope"})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"


async def test_only_the_cases_supervisors_read_its_log(api: Api) -> None:
    case_id = await identified(api)
    for name, status in (("ana", 403), ("hogar", 403), ("analista", 403), ("miguel", 404)):
        async with api.client(name) as client:
            answer = await client.get(f"/cases/{case_id}/access-log")
        assert answer.status_code == status, (name, answer.text)

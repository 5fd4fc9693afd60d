"""Criminal proceedings through the API: their whole life as the prosecutor's office and as
a caseworker records it, who names which victims and sees what, concurrent accusations,
replays, refusals and bad input."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from amparo.users import Role
from store.proceedings import ProceedingStore
from tests.api.conftest import PASSWORD, Api, new_case, referral_of

PROBLEM = "application/problem+json"
FISCAL = "fiscal"  # an institution user of the tests' registry's procuraduria-pett (legal)


@pytest.fixture
async def fiscal(api: Api) -> Api:
    """The API with a signed-in user of the specialized prosecutor's office."""
    api.users.add(FISCAL, role=Role.INSTITUTION, password=PASSWORD, institution="procuraduria-pett")
    await api.sign_in(FISCAL)
    return api


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


async def open_case(api: Api, user: str = "ana") -> str:
    async with api.client(user) as client:
        opened = await client.post("/cases", json=new_case())
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def referred(api: Api, step: str = "legal", to: str = "procuraduria-pett") -> tuple[str, str]:
    """A case of ana's, identified, with `step` referred to `to`: (case id, referral id)."""
    case_id = await open_case(api)
    async with api.client("ana") as ana:
        steps = f"/cases/{case_id}/steps"
        done = {"action": "complete", "outcome": "confirmed_victim"}
        assert (await ana.post(f"{steps}/identification", json=done)).status_code == 200
        sent = await ana.post(f"{steps}/{step}", json={"action": "refer", "institution": to})
    assert sent.status_code == 200, sent.text
    return case_id, referral_of(sent.json(), step)


def events_of(api: Api, proceeding_id: str) -> list[str]:
    stream = ProceedingStore(api.store.engine).read_stream(uuid.UUID(proceeding_id))
    return [event.type for event in stream]


async def test_the_prosecutors_office_records_a_whole_proceeding(fiscal: Api) -> None:
    api = fiscal
    (case_1, referral_1), (case_2, referral_2) = await referred(api), await referred(api)
    _, shelter = await referred(api, "shelter", "hogar-oblatas")
    async with api.client(FISCAL) as office:
        body = {"crime_type": "trafficking", "referral_ids": [referral_1], "reference": "PETT-17"}
        opened = await office.post("/proceedings", json=body)
        assert opened.status_code == 201, opened.text
        proceeding = opened.json()
        pid = proceeding["proceeding_id"]
        assert proceeding["stage"] == "investigation" and proceeding["reference"] == "PETT-17"
        assert proceeding["victims"] == 1 and proceeding["case_ids"] is None

        # Victims by the referrals it received: never by case id, never another's referral.
        problem(
            await office.post(f"/proceedings/{pid}/victims", json={"case_ids": [case_2]}),
            404,
            "case_not_found",
        )
        problem(
            await office.post(f"/proceedings/{pid}/victims", json={"referral_ids": [shelter]}),
            404,
            "referral_not_found",
        )
        linked = await office.post(
            f"/proceedings/{pid}/victims", json={"referral_ids": [referral_2]}
        )
        assert linked.status_code == 200 and linked.json()["victims"] == 2, linked.text
        again = await office.post(
            f"/proceedings/{pid}/victims", json={"referral_ids": [referral_1]}
        )
        problem(again, 409, "victims_already_linked")

        persons = [{"sex": "male", "nationality": "do"}, {"sex": "female"}]
        imputed = await office.post(f"/proceedings/{pid}/imputations", json={"persons": persons})
        assert imputed.status_code == 200 and imputed.json()["imputed"] == 2, imputed.text
        accused = await office.post(f"/proceedings/{pid}/accusation", json={})
        assert accused.status_code == 200 and accused.json()["stage"] == "prosecution"
        problem(
            await office.post(
                f"/proceedings/{pid}/sentence", json={"verdict": "acquittal", "convicted": 1}
            ),
            409,
            "acquittal_convicts_nobody",
        )
        sentence = {"verdict": "condemnatory", "convicted": 2}
        sentenced = await office.post(f"/proceedings/{pid}/sentence", json=sentence)
        assert sentenced.status_code == 200, sentenced.text
        final = sentenced.json()
        assert (final["stage"], final["verdict"], final["convicted"]) == (
            "sentenced",
            "condemnatory",
            2,
        )
        assert final["ended_at"] is not None and final["version"] == 5
        problem(
            await office.post(f"/proceedings/{pid}/archival", json={"reason": "other"}),
            409,
            "proceeding_final",
        )

        shown = await office.get(f"/proceedings/{pid}")
        listed = await office.get("/proceedings", params={"stage": "sentenced"})
        assert shown.json() == final
        assert [p["proceeding_id"] for p in listed.json()["items"]] == [pid]
        for answer in (opened, linked, sentenced, shown, listed):
            assert case_1 not in answer.text and case_2 not in answer.text  # no case ids
    assert events_of(api, pid) == [
        "InvestigationOpened", "VictimsLinked", "PersonsImputed", "AccusationFiled",
        "SentenceHandedDown",
    ]  # fmt: skip

    # The case side sees the cases it may see: ana and her supervisor both, luis none.
    for user, expected in (("ana", [case_1, case_2]), ("sofia", [case_1, case_2]), ("luis", [])):
        async with api.client(user) as client:
            seen = (await client.get(f"/proceedings/{pid}")).json()
        assert sorted(seen["case_ids"]) == sorted(expected) and seen["victims"] == 2, user


async def test_a_caseworker_records_one_on_the_cases_she_may_name(api: Api) -> None:
    hers, colleagues, elsewhere = (
        await open_case(api),
        await open_case(api, "luis"),
        await open_case(api, "carmen"),
    )
    past = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    async with api.client("ana") as ana, api.client("sofia") as sofia:
        for other in (colleagues, elsewhere, str(uuid.uuid4())):
            refused = await ana.post(
                "/proceedings", json={"crime_type": "smuggling", "case_ids": [hers, other]}
            )
            problem(refused, 404, "case_not_found")
        opened = await ana.post(
            "/proceedings",
            json={"crime_type": "smuggling", "case_ids": [hers], "occurred_at": past},
        )
        assert opened.status_code == 201, opened.text
        proceeding = opened.json()
        pid = proceeding["proceeding_id"]
        assert proceeding["case_ids"] == [hers] and proceeding["opened_at"].startswith(past[:10])

        # Her supervisor links a colleague's case of their institution; not another's.
        problem(
            await sofia.post(f"/proceedings/{pid}/victims", json={"case_ids": [elsewhere]}),
            404,
            "case_not_found",
        )
        linked = await sofia.post(f"/proceedings/{pid}/victims", json={"case_ids": [colleagues]})
        assert linked.status_code == 200, linked.text
        assert sorted(linked.json()["case_ids"]) == sorted([hers, colleagues])
        assert (await ana.get(f"/proceedings/{pid}")).json()["case_ids"] == [hers]

        problem(await ana.post(f"/proceedings/{pid}/accusation", json={}), 409, "nobody_imputed")
        problem(
            await ana.post(
                f"/proceedings/{pid}/sentence", json={"verdict": "acquittal", "convicted": 0}
            ),
            409,
            "not_prosecuted",
        )
        imputed = await ana.post(
            f"/proceedings/{pid}/imputations", json={"persons": [{"sex": "unknown"}]}
        )
        assert imputed.status_code == 200, imputed.text
        archived = await ana.post(
            f"/proceedings/{pid}/archival", json={"reason": "insufficient_evidence"}
        )
        assert archived.status_code == 200, archived.text
        assert archived.json()["stage"] == "archived"
        assert archived.json()["archive_reason"] == "insufficient_evidence"

        second = await sofia.post("/proceedings", json={"crime_type": "trafficking"})
        assert second.status_code == 201 and second.json()["victims"] == 0
        newest = second.json()["proceeding_id"]
        by_crime = (await ana.get("/proceedings", params={"crime_type": "smuggling"})).json()
        assert [p["proceeding_id"] for p in by_crime["items"]] == [pid]
        by_stage = (await ana.get("/proceedings", params={"stage": "investigation"})).json()
        assert [p["proceeding_id"] for p in by_stage["items"]] == [newest]
        first = (await ana.get("/proceedings", params={"limit": 1})).json()
        rest = (
            await ana.get("/proceedings", params={"limit": 1, "cursor": first["next_cursor"]})
        ).json()
        assert [p["proceeding_id"] for p in first["items"] + rest["items"]] == [newest, pid]
        assert rest["next_cursor"] is None


async def test_concurrent_accusations_file_one_and_refuse_the_other(fiscal: Api) -> None:
    api = fiscal
    async with api.client(FISCAL) as office, api.client("ana") as ana:
        for _ in range(3):
            opened = await office.post("/proceedings", json={"crime_type": "trafficking"})
            pid = opened.json()["proceeding_id"]
            persons = {"persons": [{"sex": "male"}]}
            assert (
                await office.post(f"/proceedings/{pid}/imputations", json=persons)
            ).status_code == 200
            answers = await asyncio.gather(
                office.post(f"/proceedings/{pid}/accusation", json={}),
                ana.post(f"/proceedings/{pid}/accusation", json={}),
            )
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
            problem(next(a for a in answers if a.status_code == 409), 409, "already_prosecuted")
            assert events_of(api, pid).count("AccusationFiled") == 1


async def test_a_request_sent_again_with_its_key_is_applied_once(fiscal: Api) -> None:
    api = fiscal
    async with api.client(FISCAL) as office:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        body = {"crime_type": "smuggling", "reference": "PETT-9"}
        first, second = [
            await office.post("/proceedings", json=body, headers=key) for _ in range(2)
        ]
        assert first.status_code == second.status_code == 201, second.text
        assert first.json() == second.json()
        pid = first.json()["proceeding_id"]
        # The same key for another request is another command: another proceeding.
        other = await office.post("/proceedings", json=body | {"reference": "PETT-10"}, headers=key)
        assert other.json()["proceeding_id"] != pid

        imputation = {"Idempotency-Key": str(uuid.uuid4())}
        persons = {"persons": [{"sex": "female", "nationality": "VE"}]}
        url = f"/proceedings/{pid}/imputations"
        together = await asyncio.gather(
            *[office.post(url, json=persons, headers=imputation) for _ in range(3)]
        )
        assert [a.status_code for a in together] == [200, 200, 200], [a.text for a in together]
        assert {a.json()["imputed"] for a in together} == {1}
        accused = await office.post(f"/proceedings/{pid}/accusation", json={}, headers=imputation)
        assert accused.status_code == 200  # not the imputation's answer: another request
        later = await office.post(url, json=persons, headers=imputation)
        assert later.status_code == 200 and later.json()["imputed"] == 1
        assert later.json()["stage"] == "prosecution"  # the current state
    assert events_of(api, pid) == ["InvestigationOpened", "PersonsImputed", "AccusationFiled"]


ROUTES = [
    ("POST", "/proceedings", {"crime_type": "trafficking"}),
    ("GET", "/proceedings", None),
    ("GET", "/proceedings/{pid}", None),
    ("POST", "/proceedings/{pid}/victims", {"case_ids": [str(uuid.uuid4())]}),
    ("POST", "/proceedings/{pid}/imputations", {"persons": [{"sex": "male"}]}),
    ("POST", "/proceedings/{pid}/accusation", {}),
    ("POST", "/proceedings/{pid}/sentence", {"verdict": "acquittal", "convicted": 0}),
    ("POST", "/proceedings/{pid}/archival", {"reason": "no_crime"}),
]


async def test_only_recorders_reach_proceedings(fiscal: Api) -> None:
    api = fiscal
    async with api.client("sofia") as sofia:
        pid = (await sofia.post("/proceedings", json={"crime_type": "trafficking"})).json()[
            "proceeding_id"
        ]
    for user in ("analista", "admin", "hogar", "refugio", None):
        async with api.client(user) as client:
            for method, path, body in ROUTES:
                answer = await client.request(method, path.format(pid=pid), json=body)
                if user is None:
                    problem(answer, 401, "not_authenticated")
                else:
                    problem(answer, 403, "forbidden")
    assert events_of(api, pid) == ["InvestigationOpened"]
    # A proceeding that is not there: 404 for every route on one.
    async with api.client(FISCAL) as office:
        for method, path, body in ROUTES[2:]:
            answer = await office.request(method, path.format(pid=uuid.uuid4()), json=body)
            problem(answer, 404, "proceeding_not_found")


async def test_bad_input_is_422_and_a_future_moment_409(fiscal: Api) -> None:
    api = fiscal
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with api.client(FISCAL) as office:
        pid = (await office.post("/proceedings", json={"crime_type": "trafficking"})).json()[
            "proceeding_id"
        ]
        base = f"/proceedings/{pid}"
        bad: list[tuple[str, Any]] = [
            ("/proceedings", {}),
            ("/proceedings", {"crime_type": "theft"}),
            ("/proceedings", {"crime_type": "trafficking", "surprise": 1}),
            ("/proceedings", {"crime_type": "trafficking", "case_ids": ["nope"]}),
            ("/proceedings", {"crime_type": "trafficking", "reference": "a\nb"}),
            ("/proceedings", {"crime_type": "trafficking", "reference": "x" * 65}),
            ("/proceedings", {"crime_type": "trafficking", "occurred_at": "2025-01-01T00:00:00"}),
            (
                "/proceedings",
                {"crime_type": "trafficking", "occurred_at": "0001-01-01T00:00:00+23:00"},
            ),
            (
                "/proceedings",
                {"crime_type": "trafficking", "case_ids": [str(uuid.uuid4()) for _ in range(501)]},
            ),
            ("/proceedings", [1, 2]),
            (f"{base}/victims", {}),
            (f"{base}/victims", {"case_ids": [], "referral_ids": []}),
            (f"{base}/imputations", {"persons": []}),
            (f"{base}/imputations", {"persons": [{"sex": "male", "nationality": "Dominicana"}]}),
            (f"{base}/imputations", {"persons": [{"nationality": "DO"}]}),
            (f"{base}/imputations", {"persons": [{"sex": "male"}] * 201}),
            (f"{base}/accusation", {"occurred_at": "yesterday"}),
            (f"{base}/sentence", {"verdict": "condemnatory", "convicted": -1}),
            (f"{base}/sentence", {"verdict": "condemnatory"}),
            (f"{base}/sentence", {"verdict": "guilty", "convicted": 1}),
            (f"{base}/archival", {}),
            (f"{base}/archival", {"reason": "bored"}),
            ("/proceedings/not-a-uuid/accusation", {}),
        ]
        for path, body in bad:
            problem(await office.post(path, json=body), 422, "invalid_input")
        problem(await office.get("/proceedings", params={"cursor": "nope"}), 422, "invalid_input")
        problem(await office.get("/proceedings", params={"stage": "trial"}), 422, "invalid_input")
        problem(await office.get("/proceedings", params={"limit": 0}), 422, "invalid_input")
        problem(await office.get("/proceedings/not-a-uuid"), 422, "invalid_input")
        raw = await office.post(
            "/proceedings", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        problem(raw, 422, "invalid_input")

        future_open = {"crime_type": "trafficking", "occurred_at": future}
        problem(await office.post("/proceedings", json=future_open), 409, "occurred_in_future")
        imputed = {"persons": [{"sex": "male"}], "occurred_at": future}
        problem(await office.post(f"{base}/imputations", json=imputed), 409, "occurred_in_future")
        early = {"persons": [{"sex": "male"}], "occurred_at": "2000-01-01T00:00:00Z"}
        problem(
            await office.post(f"{base}/imputations", json=early), 409, "occurred_before_opening"
        )
    assert events_of(api, pid) == ["InvestigationOpened"]

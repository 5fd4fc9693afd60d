"""The statistical report and the anonymised export through the API: who may get them,
small cells suppressed in the public variant, CSV equal to JSON, HTML, bad periods, and
analysts kept away from every case endpoint."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from api.app import create_app
from tests.api.conftest import Api, new_case
from tests.api.test_erasure_api import closed_case

NOW = datetime.now(UTC)
TODAY = NOW.date()  # UTC's; the report's days are Santo Domingo's (UTC-4): a wide period
PERIOD = {"from": str(TODAY - timedelta(days=3)), "to": str(TODAY + timedelta(days=1))}


async def identified_victims(api: Api, count: int, sex: str = "female") -> list[str]:
    ids = []
    async with api.client("ana") as ana:
        for _ in range(count):
            person = new_case()["person"] | {"sex": sex}  # type: ignore[operator]
            opened = await ana.post("/cases", json=new_case(person=person))
            case_id = opened.json()["case_id"]
            done = await ana.post(
                f"/cases/{case_id}/steps/identification",
                json={"action": "complete", "outcome": "confirmed_victim"},
            )
            assert done.status_code == 200, done.text
            ids.append(case_id)
    return ids


async def report(api: Api, user: str = "analista", **params: str) -> Any:
    async with api.client(user) as client:
        answer = await client.get("/reports/statistics", params=PERIOD | params)
    assert answer.status_code == 200, answer.text
    return answer.json() if params.get("format", "json") == "json" else answer


def figure(body: dict[str, Any], crime: str, indicator: str) -> Any:
    (found,) = [f for f in body["figures"] if f["crime_type"] == crime]
    return found["values"][indicator]


def breakdown(body: dict[str, Any], crime: str, dimension: str) -> dict[str, Any]:
    (found,) = [
        b for b in body["breakdowns"] if b["crime_type"] == crime and b["dimension"] == dimension
    ]
    counts: dict[str, Any] = found["counts"]
    return counts


async def test_small_cells_are_suppressed_in_the_public_variant_only(api: Api) -> None:
    await identified_victims(api, 6, sex="female")
    await identified_victims(api, 2, sex="male")
    full, public = await report(api), await report(api, variant="public")
    assert figure(full, "trafficking", "identified_victims") == 8
    assert figure(public, "trafficking", "identified_victims") == 8
    assert breakdown(full, "trafficking", "sex") == {"female": 6, "male": 2}
    # "male" is below 5; "female" alone beside the total would give it away: withheld.
    assert breakdown(public, "trafficking", "sex") == {"female": "*", "male": "<5"}
    assert breakdown(public, "trafficking", "nationality") == {"VE": 8}
    assert figure(public, "smuggling", "identified_victims") == 0  # zero singles no one out
    durations = {(d["crime_type"], d["step"]): d for d in public["step_durations"]}
    identification = durations[("trafficking", "identification")]
    assert identification["completed"] == 8 and identification["median_days"] is not None
    assert any("<5" in note for note in public["notes"])
    assert full["variant"] == "full" and public["variant"] == "public"
    assert [d["indicator"] for d in full["definitions"]] == [
        "cases_prosecuted",
        "imputed_persons",
        "cases_under_investigation",
        "identified_victims",
        "condemnatory_sentences",
        "convicted_persons",
    ]


async def test_the_csv_holds_the_same_numbers_as_the_json_and_the_html_the_table(
    api: Api,
) -> None:
    await identified_victims(api, 3)
    body = await report(api, user="sofia")
    answer = await report(api, user="sofia", format="csv")
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    from_csv = {
        (r["crime_type"], r["item"]): int(r["value"]) for r in rows if r["section"] == "indicator"
    }
    from_json = {
        (f["crime_type"], indicator): value
        for f in body["figures"]
        for indicator, value in f["values"].items()
    }
    assert from_csv == from_json
    html = await report(api, format="html")
    assert html.headers["content-type"].startswith("text/html")
    assert "<svg" in html.text and "Cases under investigation" in html.text
    public = await report(api, format="html", variant="public")
    assert "&lt;5" in public.text and ">3<" not in public.text


async def test_the_export_is_k_anonymous_and_holds_no_one_below_k(api: Api) -> None:
    await identified_victims(api, 3)
    async with api.client("analista") as analyst:
        answer = await analyst.get("/reports/htcds", params=PERIOD | {"format": "json"})
        assert answer.status_code == 200, answer.text
        export = answer.json()
        assert export["k"] == 11
        assert export["rows"] == [] and export["suppressed"] == 3  # 3 people: below k
        as_csv = await analyst.get("/reports/htcds", params=PERIOD)
        assert as_csv.status_code == 200 and as_csv.text.startswith("yearOfRegistration,")


async def test_bad_periods_and_formats_are_422_and_other_roles_403(api: Api) -> None:
    async with api.client("analista") as analyst:
        backwards = {"from": "2017-06-30", "to": "2017-01-01"}
        for params, code in (
            (backwards, "invalid_period"),
            ({"from": "2017-02-30", "to": "2017-03-01"}, "invalid_input"),
            ({"to": "2017-03-01"}, "invalid_input"),
            (PERIOD | {"format": "pdf"}, "invalid_input"),
            (PERIOD | {"variant": "secret"}, "invalid_input"),
        ):
            answer = await analyst.get("/reports/statistics", params=params)
            assert (answer.status_code, answer.json()["code"]) == (422, code), params
        wrong = await analyst.get("/reports/htcds", params=backwards)
        assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_period")
    for user in ("ana", "hogar", "admin"):
        async with api.client(user) as other:
            for path in ("/reports/statistics", "/reports/htcds"):
                answer = await other.get(path, params=PERIOD)
                assert answer.status_code == 403, (user, path)
    async with api.client() as anonymous:
        assert (await anonymous.get("/reports/statistics", params=PERIOD)).status_code == 401


# Routes an analyst may use: signing in and out, who they are, health, their own notifications, the
# institutions' names (no person in any of them), and the reports.
ANALYST_MAY = (
    "/auth/",
    "/me",
    "/healthz",
    "/readyz",
    "/reports/",
    "/notifications",
    "/institutions",
)


async def test_an_analyst_reaches_no_case_endpoint(api: Api) -> None:
    (case_id,) = await identified_victims(api, 1)
    paths: dict[str, dict[str, Any]] = create_app().openapi()["paths"]
    tried = 0
    async with api.client("analista") as analyst:
        for full_path, operations in paths.items():
            path = full_path.removeprefix("/api/v1")
            if path.startswith(ANALYST_MAY):
                continue
            filled = re.sub(r"\{case_id\}", case_id, path)
            filled = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), filled)
            for method in operations:
                answer = await analyst.request(method.upper(), filled, json={})
                assert answer.status_code in (401, 403), (method, path, answer.status_code)
                assert "Rosa" not in answer.text and "Peña" not in answer.text
                tried += 1
    assert tried >= 20, "every case, visa, referral, proceeding and supervision route"


async def test_erasing_a_person_leaves_the_report_unchanged(api: Api) -> None:
    case_id = await closed_case(api, visa=False)
    before = await report(api)
    async with api.client("admin") as admin:
        erased = await admin.post(f"/cases/{case_id}/erasure", json={"reason": "request"})
        assert erased.status_code == 200, erased.text
    after = await report(api)
    assert figure(before, "trafficking", "identified_victims") >= 1
    assert {k: v for k, v in after.items() if k != "generated_at"} == {
        k: v for k, v in before.items() if k != "generated_at"
    }

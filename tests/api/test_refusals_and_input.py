"""Through the API: every refusal of the path's rules, every kind of bad input, and
read-your-writes after every command.

A refused command is 409 with the domain's code; invalid input is 422 naming the field
(413 for an oversized body); either way nothing is recorded: the case's events, the case
itself and the case list read the same before and after.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.app import PREFIX
from api.limits import MAX_BODY_BYTES
from tests.api.conftest import Api, delivered, new_case, referral_of

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
LONG_TEXT = "x" * 2001
NOW = datetime.now(UTC)


@dataclass
class Http:
    """One client for the whole test, acting as any signed-in user."""

    api: Api
    client: httpx.AsyncClient

    def _headers(self, user: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api.tokens[user]}"} if user else {}
        return headers | (extra or {})

    async def get(self, user: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            PREFIX + path, params=params, headers=self._headers(user, None)
        )

    async def post(
        self,
        user: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
    ) -> httpx.Response:
        if content is not None:
            return await self.client.post(
                PREFIX + path, content=content, headers=self._headers(user, headers)
            )
        return await self.client.post(
            PREFIX + path, json=body, headers=self._headers(user, headers)
        )

    async def open(self, user: str = "ana", **changes: Any) -> dict[str, Any]:
        opened = await self.post(user, "/cases", new_case(**changes))
        assert opened.status_code == 201, opened.text
        case: dict[str, Any] = opened.json()
        return case

    async def snapshot(self, case_id: str | None = None) -> dict[str, Any]:
        """What pett's supervisor sees: every case, and `case_id`'s case and events."""
        listed = await self.get("sofia", "/cases", limit=200)
        assert listed.status_code == 200, listed.text
        seen: dict[str, Any] = {"cases": listed.json()["items"]}
        if case_id is not None:
            seen["case"] = (await self.get("sofia", f"/cases/{case_id}")).json()
            seen["events"] = (await self.get("sofia", f"/cases/{case_id}/events")).json()
        return seen


@pytest.fixture
async def http(api: Api) -> AsyncIterator[Http]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        yield Http(api, client)


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert set(problem) >= PROBLEM_FIELDS, problem
    assert (problem["status"], problem["code"]) == (status, code), problem
    assert problem["detail"]
    return problem


async def refused(
    http: Http, user: str, path: str, body: dict[str, Any], code: str, case_id: str,
    status: int = 409,
) -> None:  # fmt: skip
    """`user` posting `body` to `path` is refused with `status` `code`; nothing changes."""
    before = await http.snapshot(case_id)
    assert_problem(await http.post(user, path, body), status, code)
    assert await http.snapshot(case_id) == before, f"{code}: the refusal recorded something"


async def accepted(http: Http, user: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post(user, path, body)
    assert answer.status_code == 200, answer.text
    case: dict[str, Any] = answer.json()
    return case


# --- 409: the path's rules refuse -------------------------------------------------------


async def test_step_refusals(http: Http) -> None:
    case_id = (await http.open())["case_id"]
    step = f"/cases/{case_id}/steps"

    await refused(http, "ana", f"{step}/shelter", {"action": "start"}, "step_not_open", case_id)
    await refused(
        http, "ana", f"{step}/identification", {"action": "complete"}, "outcome_required", case_id
    )
    for reason in ({}, {"reason": "   "}):
        await refused(
            http,
            "ana",
            f"{step}/identification",
            {"action": "decline", **reason},
            "reason_required",
            case_id,
        )
    await refused(
        http,
        "ana",
        f"{step}/identification",
        {"action": "not_needed", "reason": "no need"},
        "invalid_transition",
        case_id,
    )
    for institution in ({}, {"institution": "   "}):
        await refused(
            http,
            "ana",
            f"{step}/identification",
            {"action": "refer", **institution},
            "institution_required",
            case_id,
        )
    long_ago = (NOW - timedelta(days=400)).isoformat()
    await refused(
        http,
        "ana",
        f"{step}/identification",
        {"action": "start", "occurred_at": long_ago},
        "occurred_before_opening",
        case_id,
    )
    await refused(http, "ana", f"/cases/{case_id}/notes", {"text": "  \n "}, "empty_text", case_id)
    await refused(
        http,
        "ana",
        f"/cases/{case_id}/notes",
        {"text": "hi", "step": "legal"},
        "step_not_open",
        case_id,
    )

    # A referral goes to an institution of the registry that serves the step.
    for name, code in (
        ("policia", "institution_unknown"),
        ("hogar-oblatas", "institution_not_serving_step"),
    ):
        body = {"action": "refer", "institution": name}
        await refused(http, "ana", f"{step}/identification", body, code, case_id, status=422)
    referred = await accepted(
        http,
        "ana",
        f"{step}/identification",
        {"action": "refer", "institution": "procuraduria-pett"},
    )
    await delivered(http.api, referral_of(referred, "identification"))
    await refused(
        http,
        "ana",
        f"{step}/identification",
        {"action": "refer", "institution": "migracion"},
        "invalid_transition",
        case_id,
    )
    await accepted(
        http, "ana", f"{step}/identification", {"action": "complete", "outcome": "confirmed_victim"}
    )

    await refused(
        http,
        "ana",
        f"{step}/shelter",
        {"action": "complete", "outcome": "confirmed_victim"},
        "outcome_not_allowed",
        case_id,
    )
    await refused(http, "ana", f"{step}/identification", {"action": "start"}, "step_final", case_id)
    await refused(
        http,
        "ana",
        f"{step}/identification",
        {"action": "decline", "reason": "changed her mind"},
        "step_final",
        case_id,
    )
    await refused(
        http, "ana", f"{step}/return_reintegration", {"action": "start"}, "step_not_open", case_id
    )
    await accepted(http, "ana", f"{step}/shelter", {"action": "start"})
    await refused(
        http, "ana", f"{step}/shelter", {"action": "start"}, "invalid_transition", case_id
    )


async def test_consent_refusals(http: Http) -> None:
    case = await http.open(consent_assistance=False, consent_data_sharing=False)
    case_id = case["case_id"]
    step = f"/cases/{case_id}/steps"
    consent = f"/cases/{case_id}/consent"

    # A referral shares data: it needs that consent.
    await refused(
        http,
        "ana",
        f"{step}/identification",
        {"action": "refer", "institution": "procuraduria-pett"},
        "consent_required",
        case_id,
    )
    await refused(
        http, "ana", consent, {"scope": "assistance", "given": False}, "consent_not_given", case_id
    )
    await accepted(
        http, "ana", f"{step}/identification", {"action": "complete", "outcome": "smuggled_person"}
    )
    # Assistance needs the person's consent to assistance.
    await refused(http, "ana", f"{step}/health", {"action": "start"}, "consent_required", case_id)
    await accepted(http, "ana", consent, {"scope": "assistance", "given": True})
    await refused(
        http,
        "ana",
        consent,
        {"scope": "assistance", "given": True},
        "consent_already_given",
        case_id,
    )
    await accepted(http, "ana", f"{step}/health", {"action": "start"})


async def test_assignment_closure_and_overdue_refusals(http: Http) -> None:
    case_id = (await http.open())["case_id"]
    case = f"/cases/{case_id}"

    await refused(
        http, "sofia", f"{case}/assignment", {"caseworker": "ana"}, "already_assigned", case_id
    )
    await refused(
        http,
        "sofia",
        f"{case}/closure/decision",
        {"approved": True},
        "no_closure_requested",
        case_id,
    )
    await refused(
        http,
        "sofia",
        f"{case}/steps/identification/overdue/acknowledge",
        {"note": "seen"},
        "step_not_overdue",
        case_id,
    )
    await refused(
        http,
        "sofia",
        f"{case}/steps/legal/overdue/acknowledge",
        {"note": "seen"},
        "step_not_open",
        case_id,
    )
    await refused(
        http, "ana", f"{case}/closure", {"reason": "path_completed"}, "closure_blocked", case_id
    )

    await accepted(http, "ana", f"{case}/closure", {"reason": "lost_contact"})
    await refused(
        http, "ana", f"{case}/closure", {"reason": "lost_contact"}, "closure_pending", case_id
    )
    closed = await accepted(http, "sofia", f"{case}/closure/decision", {"approved": True})
    assert closed["status"] == "closed"

    # A closed case refuses everything, with one code.
    commands: list[tuple[str, str, dict[str, Any]]] = [
        ("ana", f"{case}/notes", {"text": "one more thing"}),
        ("ana", f"{case}/steps/identification", {"action": "start"}),
        ("ana", f"{case}/consent", {"scope": "assistance", "given": False}),
        ("ana", f"{case}/closure", {"reason": "lost_contact"}),
        ("sofia", f"{case}/assignment", {"caseworker": "luis"}),
        ("sofia", f"{case}/closure/decision", {"approved": False}),
        ("sofia", f"{case}/steps/identification/overdue/acknowledge", {"note": "seen"}),
    ]
    for user, path, body in commands:
        await refused(http, user, path, body, "case_closed", case_id)


async def test_not_a_victim_closes_the_case_which_then_refuses_everything(
    http: Http,
) -> None:
    """`not_a_victim` closes the case at once: the path's end, seen through the API."""
    case_id = (await http.open())["case_id"]
    closed = await accepted(
        http,
        "ana",
        f"/cases/{case_id}/steps/identification",
        {"action": "complete", "outcome": "not_a_victim"},
    )
    assert closed["status"] == "closed"
    assert closed["closed_reason"] == "not_a_victim"
    await refused(http, "ana", f"/cases/{case_id}/notes", {"text": "after"}, "case_closed", case_id)


def _visa(**changes: Any) -> dict[str, Any]:
    """A residence permit 200 days from expiry: no reminder falls due while a test runs."""
    body = {
        "kind": "residence",
        "number": "R-2024-118",
        "issued_on": (date.today() - timedelta(days=30)).isoformat(),
        "expires_on": (date.today() + timedelta(days=200)).isoformat(),
    }
    return body | changes


async def test_visa_refusals(http: Http) -> None:
    case_id = (await http.open())["case_id"]
    visas = f"/cases/{case_id}/visas"
    today = date.today()
    for body, code in [
        (_visa(expires_on=(today - timedelta(days=60)).isoformat()), "visa_expiry_before_issue"),
        (_visa(issued_on=TOMORROW), "visa_issued_in_future"),
        (
            _visa(
                issued_on=(today - timedelta(days=400)).isoformat(),
                expires_on=(today - timedelta(days=1)).isoformat(),
            ),
            "visa_already_expired",
        ),
    ]:
        await refused(http, "ana", visas, body, code, case_id)
    registered = await http.post("ana", visas, _visa())
    assert registered.status_code == 201, registered.text
    visa = registered.json()
    renewal, cancellation = (f"/visas/{visa['visa_id']}/{a}" for a in ("renewal", "cancellation"))
    await refused(
        http, "ana", renewal, {"expires_on": visa["expires_on"]}, "visa_renewal_not_later", case_id
    )
    await refused(http, "ana", cancellation, {"reason": "  "}, "reason_required", case_id)
    cancelled = await http.post("sofia", cancellation, {"reason": "revoked"})
    assert cancelled.status_code == 200, cancelled.text
    await refused(http, "sofia", cancellation, {"reason": "again"}, "visa_cancelled", case_id)
    later = (today + timedelta(days=900)).isoformat()
    await refused(http, "ana", renewal, {"expires_on": later}, "visa_cancelled", case_id)


# --- 422 and 413: invalid input ---------------------------------------------------------


PERSON: dict[str, Any] = {
    "given_name": "Rosa", "family_name": "Peña", "sex": "female",
    "birth_date": "1990-04-02", "nationality": "VE",
}  # fmt: skip


def _person(**changes: Any) -> dict[str, Any]:
    return PERSON | changes


TOMORROW = (date.today() + timedelta(days=1)).isoformat()
IN_AN_HOUR = (NOW + timedelta(hours=1)).isoformat()

BAD_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("wrong type", new_case(crime_type=42), "crime_type"),
    ("unknown enum", new_case(crime_type="piracy"), "crime_type"),
    ("unknown sex", new_case(person=_person(sex="robot")), "person.sex"),
    ("alpha-3 country", new_case(person=_person(nationality="VEN")), "person.nationality"),
    ("not a country", new_case(person=_person(nationality="v1")), "person.nationality"),
    ("born tomorrow", new_case(person=_person(birth_date=TOMORROW)), "person.birth_date"),
    ("born 1850", new_case(person=_person(birth_date="1850-01-01")), "person.birth_date"),
    ("not a date", new_case(person=_person(birth_date="yesterday")), "person.birth_date"),
    ("name too long", new_case(person=_person(given_name="R" * 121)), "person.given_name"),
    ("control character", new_case(person=_person(given_name="Ro\nsa")), "person.given_name"),
    ("empty name", new_case(person=_person(family_name="")), "person.family_name"),
    ("bad language", new_case(person=_person(languages=["Spanish"])), "person.languages.0"),
    ("location too long", new_case(location="x" * 3000), "location"),
    ("unknown exploitation", new_case(exploitation_types=["juggling"]), "exploitation_types.0"),
    ("consent not a bool", new_case(consent_assistance="perhaps"), "consent_assistance"),
    ("person a string", new_case(person="Rosa Peña"), "person"),
    ("assignee pattern", new_case(assigned_to="Ana María"), "assigned_to"),
    ("unknown field", new_case(favourite_colour="blue"), "favourite_colour"),
    ("unknown nested field", new_case(person=_person(passport="X1")), "person.passport"),
    ("missing person", {"crime_type": "trafficking"}, "person"),
]


def assert_invalid(answer: httpx.Response, field: str) -> None:
    """422 `invalid_input`, naming `field` in `errors` and the first of them in `detail`."""
    problem = assert_problem(answer, 422, "invalid_input")
    fields = [e["field"] for e in problem["errors"]]
    assert field in fields, problem
    assert problem["detail"].startswith(f"{fields[0]}: "), problem


async def test_invalid_case_bodies_are_422_naming_the_field(
    http: Http, subtests: pytest.Subtests
) -> None:
    before = await http.snapshot()
    for name, body, field in BAD_CASES:
        with subtests.test(name):
            assert_invalid(await http.post("ana", "/cases", body), field)
    # The assignee is checked against the directory: 422 with its own codes.
    for assignee, code in [
        ("nobody", "unknown_caseworker"),
        ("sofia", "unknown_caseworker"),
        ("carmen", "other_institution"),
    ]:
        with subtests.test(assignee):
            answer = await http.post("ana", "/cases", new_case(assigned_to=assignee))
            assert_problem(answer, 422, code)
    assert await http.snapshot() == before, "an invalid request opened a case"


def _command_errors(case: str) -> list[tuple[str, str, str, Any, str]]:
    """(name, user, path, body, field) of invalid commands on `case`."""
    step, notes = f"{case}/steps/identification", f"{case}/notes"
    ack = f"{case}/steps/identification/overdue/acknowledge"
    visas = f"{case}/visas"
    # Bodies are checked before the visa is looked up: any visa id shows the 422.
    renewal, cancellation = (f"/visas/{uuid.uuid4()}/{a}" for a in ("renewal", "cancellation"))
    return [
        ("unknown action", "ana", step, {"action": "teleport"}, "action"),
        ("missing action", "ana", step, {"reason": "x"}, "action"),
        ("action not a string", "ana", step, {"action": ["start"]}, "action"),
        ("unknown outcome", "ana", step, {"action": "complete", "outcome": "maybe"}, "outcome"),
        (
            "occurred in the future",
            "ana",
            step,
            {"action": "start", "occurred_at": IN_AN_HOUR},
            "occurred_at",
        ),
        (
            "naive occurred_at",
            "ana",
            step,
            {"action": "start", "occurred_at": "2025-01-01T10:00:00"},
            "occurred_at",
        ),
        ("reason too long", "ana", step, {"action": "decline", "reason": LONG_TEXT}, "reason"),
        ("note too long", "ana", step, {"action": "start", "note": LONG_TEXT}, "note"),
        (
            "institution too long",
            "ana",
            step,
            {"action": "refer", "institution": "i" * 121},
            "institution",
        ),
        ("unknown field", "ana", step, {"action": "start", "priority": "high"}, "priority"),
        ("unknown step", "ana", f"{case}/steps/cooking", {"action": "start"}, "step"),
        ("not a case id", "ana", "/cases/not-a-uuid/notes", {"text": "hi"}, "case_id"),
        ("text too long", "ana", notes, {"text": LONG_TEXT}, "text"),
        ("text with a NUL", "ana", notes, {"text": "a\x00b"}, "text"),
        ("reason with a NUL", "ana", step, {"action": "decline", "reason": "\x00"}, "reason"),
        ("text not a string", "ana", notes, {"text": 42}, "text"),
        ("text empty", "ana", notes, {"text": ""}, "text"),
        ("text missing", "ana", notes, {}, "text"),
        ("note on an unknown step", "ana", notes, {"text": "hi", "step": "cooking"}, "step"),
        (
            "unknown consent scope",
            "ana",
            f"{case}/consent",
            {"scope": "all", "given": True},
            "scope",
        ),
        (
            "consent not a bool",
            "ana",
            f"{case}/consent",
            {"scope": "assistance", "given": "perhaps"},
            "given",
        ),
        ("unknown closure reason", "ana", f"{case}/closure", {"reason": "bored"}, "reason"),
        (
            "closure note too long",
            "ana",
            f"{case}/closure",
            {"reason": "lost_contact", "note": LONG_TEXT},
            "note",
        ),
        ("caseworker not a name", "sofia", f"{case}/assignment", {"caseworker": 42}, "caseworker"),
        (
            "caseworker pattern",
            "sofia",
            f"{case}/assignment",
            {"caseworker": "Luis P"},
            "caseworker",
        ),
        (
            "approved not a bool",
            "sofia",
            f"{case}/closure/decision",
            {"approved": "perhaps"},
            "approved",
        ),
        (
            "decision unknown field",
            "sofia",
            f"{case}/closure/decision",
            {"approved": True, "force": True},
            "force",
        ),
        ("acknowledgement without note", "sofia", ack, {}, "note"),
        ("acknowledgement note too long", "sofia", ack, {"note": LONG_TEXT}, "note"),
        ("unknown visa kind", "ana", visas, _visa(kind="tourist"), "kind"),
        (
            "visa kind missing",
            "ana",
            visas,
            {k: v for k, v in _visa().items() if k != "kind"},
            "kind",
        ),
        ("visa number too long", "ana", visas, _visa(number="N" * 41), "number"),
        ("visa number empty", "ana", visas, _visa(number=""), "number"),
        ("visa number with a newline", "ana", visas, _visa(number="R-1\n2"), "number"),
        ("expiry not a date", "ana", visas, _visa(expires_on="next year"), "expires_on"),
        ("no such issue date", "ana", visas, _visa(issued_on="2025-02-30"), "issued_on"),
        ("expiry at the end of time", "ana", visas, _visa(expires_on="9999-12-31"), "expires_on"),
        ("issued in year one", "ana", visas, _visa(issued_on="0001-01-01"), "issued_on"),
        ("renewal at the end of time", "ana", renewal, {"expires_on": "9999-12-31"}, "expires_on"),
        ("visa unknown field", "ana", visas, _visa(country="PE"), "country"),
        ("renewal without expiry", "ana", renewal, {"number": "R-2"}, "expires_on"),
        ("renewal expiry not a date", "ana", renewal, {"expires_on": "soon"}, "expires_on"),
        ("cancellation without reason", "sofia", cancellation, {}, "reason"),
        ("cancellation reason too long", "ana", cancellation, {"reason": LONG_TEXT}, "reason"),
    ]


async def test_invalid_command_bodies_are_422_naming_the_field(
    http: Http, subtests: pytest.Subtests
) -> None:
    case_id = (await http.open())["case_id"]
    before = await http.snapshot(case_id)
    for name, user, path, body, field in _command_errors(f"/cases/{case_id}"):
        with subtests.test(name):
            assert_invalid(await http.post(user, path, body), field)
    with subtests.test("idempotency key not a uuid"):
        answer = await http.post(
            "ana", f"/cases/{case_id}/notes", {"text": "hi"}, headers={"Idempotency-Key": "k1"}
        )
        assert_invalid(answer, "Idempotency-Key")
    for assignee, code in [
        ("nobody", "unknown_caseworker"),
        ("miguel", "unknown_caseworker"),
        ("carmen", "other_institution"),
    ]:
        with subtests.test(f"assign to {assignee}"):
            answer = await http.post(
                "sofia", f"/cases/{case_id}/assignment", {"caseworker": assignee}
            )
            assert_problem(answer, 422, code)
    assert await http.snapshot(case_id) == before, "an invalid request recorded something"


async def test_a_supervisor_cannot_assign_a_case_to_herself(http: Http) -> None:
    case_id = (await http.open())["case_id"]
    before = await http.snapshot(case_id)
    answer = await http.post("sofia", f"/cases/{case_id}/assignment", {"caseworker": "sofia"})
    assert_problem(answer, 422, "unknown_caseworker")
    assert await http.snapshot(case_id) == before


async def test_an_idempotency_key_reused_for_another_command_is_refused(http: Http) -> None:
    case_id = (await http.open())["case_id"]
    key = {"Idempotency-Key": "6b1f3a4e-0a8e-4a57-9d55-2a7c1f0e9b11"}
    noted = await http.post("ana", f"/cases/{case_id}/notes", {"text": "first"}, headers=key)
    assert noted.status_code == 200, noted.text
    before = await http.snapshot(case_id)
    started = await http.post(
        "ana", f"/cases/{case_id}/steps/identification", {"action": "start"}, headers=key
    )
    # Either refused (the key is bound to its first request) or applied: never a 200
    # that did nothing.
    if started.status_code == 200:
        assert await http.snapshot(case_id) != before, "200, yet nothing was recorded"
    else:
        assert started.status_code in (409, 422), started.text
        assert await http.snapshot(case_id) == before


async def test_an_idempotency_key_reused_for_another_case_opens_that_case(http: Http) -> None:
    """The key identifies a request, not a case: another body is another command, applied."""
    key = {"Idempotency-Key": "0d3e2f1c-7b6a-4c5d-8e9f-a0b1c2d3e4f5"}
    first = await http.post("ana", "/cases", new_case(), headers=key)
    assert first.status_code == 201, first.text
    other = new_case(crime_type="smuggling", person=_person(given_name="Jean"))
    again = await http.post("ana", "/cases", other, headers=key)
    assert again.status_code == 201, again.text
    assert again.json()["case_id"] != first.json()["case_id"]
    assert again.json()["person"]["given_name"] == "Jean"
    replay = await http.post("ana", "/cases", other, headers=key)
    assert replay.json()["case_id"] == again.json()["case_id"]


async def test_invalid_list_queries_are_422_naming_the_parameter(
    http: Http, subtests: pytest.Subtests
) -> None:
    queries: list[tuple[dict[str, Any], str]] = [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "lost"}, "status"),
        ({"step": "cooking"}, "step"),
        ({"crime_type": "piracy"}, "crime_type"),
        ({"overdue": "perhaps"}, "overdue"),
        ({"q": "x" * 201}, "q"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]
    for params, field in queries:
        with subtests.test(field, params=params):
            answer = await http.get("sofia", "/cases", **params)
            problem = assert_problem(answer, 422, "invalid_input")
            assert problem["detail"].startswith(f"{field}: "), problem


def _deep(levels: int) -> bytes:
    return b'{"text": ' + b"[" * levels + b"]" * levels + b"}"


async def test_malformed_and_oversized_bodies_record_nothing(
    http: Http, subtests: pytest.Subtests
) -> None:
    case_id = (await http.open())["case_id"]
    notes = f"/cases/{case_id}/notes"
    before = await http.snapshot(case_id)
    as_json = {"Content-Type": "application/json"}
    for name, content, headers in [
        ("not JSON", b'{text: "hi"', as_json),
        ("truncated JSON", b'{"text": "hi"', as_json),
        ("not UTF-8", b'{"text": "\xff\xfe"}', as_json),
        ("a JSON array", b'[{"text": "hi"}]', as_json),
        ("a JSON string", b'"hi"', as_json),
        ("null", b"null", as_json),
        ("empty", b"", as_json),
        ("plain text", b"hi", {"Content-Type": "text/plain"}),
        ("nested deeper than the parser goes", _deep(20_000), as_json),
        ("nested, within the parser's reach", _deep(200), as_json),
    ]:
        with subtests.test(name):
            answer = await http.post("ana", notes, headers=headers, content=content)
            problem = assert_problem(answer, 422, "invalid_input")
            fields = [e["field"] for e in problem["errors"]]
            assert fields[0] in {"body", "text"}, problem
    with subtests.test("oversized, declared"):
        huge = json.dumps({"text": "x" * MAX_BODY_BYTES}).encode()
        assert_problem(
            await http.post("ana", notes, headers=as_json, content=huge), 413, "too_large"
        )
    with subtests.test("oversized, streamed without a length"):

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"text": "'
            for _ in range(MAX_BODY_BYTES // 1024 + 1):
                yield b"x" * 1024
            yield b'"}'

        answer = await http.post("ana", notes, headers=as_json, content=chunks())
        assert_problem(answer, 413, "too_large")
    with subtests.test("oversized case"):
        big = new_case(location="x" * MAX_BODY_BYTES)
        answer = await http.post("ana", "/cases", headers=as_json, content=json.dumps(big).encode())
        assert_problem(answer, 413, "too_large")
    assert await http.snapshot(case_id) == before, "a malformed request recorded something"
    # The API still answers normally afterwards.
    assert (await http.post("ana", notes, {"text": "still here"})).status_code == 200


# --- read-your-writes -------------------------------------------------------------------


async def _read_back(http: Http, user: str, answer: dict[str, Any], last: str) -> None:
    """The very next reads show what the command answered: case, events and list."""
    case_id = answer["case_id"]
    read = await http.get(user, f"/cases/{case_id}")
    assert read.status_code == 200, read.text
    assert read.json() == {k: v for k, v in answer.items() if k != "possible_duplicates"}
    events = (await http.get(user, f"/cases/{case_id}/events")).json()
    assert [e["version"] for e in events] == list(range(1, answer["version"] + 1))
    assert events[-1]["type"] == last
    listed = (await http.get(user, "/cases", limit=200)).json()["items"]
    assert [c for c in listed if c["case_id"] == case_id] == [read.json()]


def _step(case: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in case["steps"] if s["step"] == name)
    return found


async def test_read_your_writes_after_every_command(http: Http) -> None:
    opened = await http.open()
    case_id, version = opened["case_id"], opened["version"]
    await _read_back(http, "ana", opened, "StepOpened")
    case = f"/cases/{case_id}"

    async def command(user: str, path: str, body: dict[str, Any], last: str) -> dict[str, Any]:
        nonlocal version
        answer = await accepted(http, user, path, body)
        assert answer["version"] > version, (path, body)
        version = answer["version"]
        await _read_back(http, user, answer, last)
        return answer

    started = await command(
        "ana", f"{case}/steps/identification", {"action": "start"}, "StepStarted"
    )
    assert _step(started, "identification")["state"] == "in_progress"
    await command("ana", f"{case}/notes", {"text": "first interview done"}, "NoteAdded")
    await command(
        "ana", f"{case}/consent", {"scope": "data_sharing", "given": False}, "ConsentWithdrawn"
    )
    await command(
        "ana", f"{case}/consent", {"scope": "data_sharing", "given": True}, "ConsentGiven"
    )
    done = await command(
        "ana",
        f"{case}/steps/identification",
        {"action": "complete", "outcome": "confirmed_victim"},
        "StepOpened",
    )
    assert done["identification_outcome"] == "confirmed_victim"
    assert _step(done, "identification")["state"] == "completed"
    assert {s["step"] for s in done["steps"]} >= {"shelter", "health", "legal", "documentation"}
    referred = await accepted(
        http, "ana", f"{case}/steps/shelter", {"action": "refer", "institution": "hogar-oblatas"}
    )
    await delivered(http.api, referral_of(referred, "shelter"))  # the system's event follows
    referred = (await http.get("ana", case)).json()
    version = referred["version"]
    await _read_back(http, "ana", referred, "ReferralDelivered")
    assert _step(referred, "shelter") | {"state": "referred", "institution": "hogar-oblatas"} == (
        _step(referred, "shelter")
    )
    moved = await command("ana", f"{case}/steps/shelter", {"action": "start"}, "StepStarted")
    assert _step(moved, "shelter")["state"] == "in_progress"
    skipped = await command(
        "ana",
        f"{case}/steps/health",
        {"action": "not_needed", "reason": "seen by a doctor"},
        "StepNotNeeded",
    )
    assert _step(skipped, "health")["state"] == "not_needed"
    declined = await command(
        "ana",
        f"{case}/steps/legal",
        {"action": "decline", "reason": "no complaint"},
        "StepDeclined",
    )
    assert _step(declined, "legal")["state"] == "declined"
    documented = await command(
        "ana",
        f"{case}/steps/documentation",
        {"action": "complete", "note": "passport issued"},
        "NoteAdded",
    )
    assert _step(documented, "documentation")["state"] == "completed"
    assert _step(documented, "return_reintegration")["state"] == "pending"

    reassigned = await command(
        "sofia", f"{case}/assignment", {"caseworker": "luis"}, "CaseAssigned"
    )
    assert reassigned["assigned_to"] == "luis"
    assert (await http.get("luis", case)).json() == reassigned
    assert (await http.get("ana", case)).status_code == 404

    asked = await command("luis", f"{case}/closure", {"reason": "lost_contact"}, "ClosureRequested")
    assert asked["status"] == "closure_requested"
    kept = await command("sofia", f"{case}/closure/decision", {"approved": False}, "ClosureDecided")
    assert kept["status"] == "open"
    await command("luis", f"{case}/closure", {"reason": "lost_contact"}, "ClosureRequested")
    closed = await command(
        "sofia", f"{case}/closure/decision", {"approved": True, "note": "ok"}, "CaseClosed"
    )
    assert closed["status"] == "closed"
    assert closed["closed_reason"] == "lost_contact"
    assert closed["closed_at"] is not None
    closed_list = (await http.get("sofia", "/cases", status="closed")).json()["items"]
    assert [c["case_id"] for c in closed_list] == [case_id]

"""Who may call what: every endpoint against every role, and every way to be signed out.

The matrix lists each route the app serves; `test_the_matrix_covers_every_route` fails
when a route has no row, so a new endpoint cannot ship without its access rules.

Outcomes per signed-in user: `OK` (allowed: the endpoint's success status), 403 (the
role may not do this) or 404 (a case that exists but is not theirs to see: it answers
exactly like a missing one). A refused request (401, 403, 404) records nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from amparo.users import Role, UserDirectory
from api.app import PREFIX, create_app
from tests.api.conftest import PASSWORD, USERS, Api, delivered, new_case, referral_of

OK: Literal["ok"] = "ok"
Outcome = Literal["ok", 401, 403, 404]
NAMES = [name for name, _, _ in USERS]
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}

# ana owns the case (caseworker, pett); luis is her colleague, carmen of migracion;
# sofia supervises pett, miguel migracion; hogar, refugio (institutions), analista and admin
# see no case. Referrals on ana's cases go to hogar.
_NOBODY_ELSE: dict[str, Outcome] = {"hogar": 403, "refugio": 403, "analista": 403, "admin": 403}
EVERYONE: dict[str, Outcome] = dict.fromkeys(NAMES, OK)
CASEWORKERS: dict[str, Outcome] = {
    "ana": OK, "luis": OK, "carmen": OK, "sofia": 403, "miguel": 403, **_NOBODY_ELSE,
}  # fmt: skip
CASE_LISTERS: dict[str, Outcome] = {
    "ana": OK, "luis": OK, "carmen": OK, "sofia": OK, "miguel": OK, **_NOBODY_ELSE,
}  # fmt: skip
ASSIGNED_CASEWORKER: dict[str, Outcome] = {
    "ana": OK, "luis": 404, "carmen": 404, "sofia": 403, "miguel": 403, **_NOBODY_ELSE,
}  # fmt: skip
CASE_SUPERVISOR: dict[str, Outcome] = {
    "ana": 403, "luis": 403, "carmen": 403, "sofia": OK, "miguel": 404, **_NOBODY_ELSE,
}  # fmt: skip
SUPERVISORS: dict[str, Outcome] = {
    "ana": 403, "luis": 403, "carmen": 403, "sofia": OK, "miguel": OK, **_NOBODY_ELSE,
}  # fmt: skip
CASE_READERS: dict[str, Outcome] = {
    "ana": OK, "luis": 404, "carmen": 404, "sofia": OK, "miguel": 404, **_NOBODY_ELSE,
}  # fmt: skip

# Reports: analysts (only these) and supervisors; they hold no person.
REPORT_READERS: dict[str, Outcome] = {
    **dict.fromkeys(NAMES, 403), "sofia": OK, "miguel": OK, "analista": OK,
}  # fmt: skip
PERIOD = {"from": "2017-01-01", "to": "2017-06-30"}


@dataclass(frozen=True)
class Row:
    """One endpoint: how to call it, and what each user gets."""

    method: str
    path: str  # the route's template, as `app.routes` shows it
    who: Mapping[str, Outcome]
    ok: int = 200
    ok_code: str | None = None  # allowed, but the path's rules refuse (409 with this code)
    public: bool = False  # no token needed
    json: dict[str, Any] | None = None
    form: bool = False  # the token endpoint's OAuth2 password form
    closure_requested: bool = False  # the case needs a closure request first
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path.removeprefix(PREFIX)}"

    @property
    def on_a_case(self) -> bool:
        return "{case_id}" in self.path

    @property
    def on_a_visa(self) -> bool:
        return "{visa_id}" in self.path

    @property
    def on_a_referral(self) -> bool:
        return "{referral_id}" in self.path

    @property
    def on_a_proceeding(self) -> bool:
        return "{proceeding_id}" in self.path

    @property
    def signed(self) -> bool:
        """Authenticated by the institution's signature, not by a bearer token."""
        return self.path.endswith("/signed-answer")

    @property
    def hidden_code(self) -> str:
        """What a thing the user may not see answers: the same as a missing one."""
        if self.on_a_referral:
            return "referral_not_found"
        return "visa_not_found" if self.on_a_visa else "case_not_found"


C = f"{PREFIX}/cases/{{case_id}}"
V = f"{PREFIX}/visas/{{visa_id}}"
IN_A_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
VISA = {"kind": "work", "number": "W-1", "issued_on": "2025-01-02", "expires_on": IN_A_YEAR}
# A visa is cancelled by its case's caseworker or supervisor.
VISA_KEEPERS: dict[str, Outcome] = {
    "ana": OK, "luis": 404, "carmen": 404, "sofia": OK, "miguel": 404, **_NOBODY_ELSE,
}  # fmt: skip
R = f"{PREFIX}/referrals/{{referral_id}}"
REFERRAL_LISTERS: dict[str, Outcome] = {
    "ana": OK, "luis": OK, "carmen": OK, "sofia": OK, "miguel": OK, "hogar": OK, "refugio": OK,
    "analista": 403, "admin": 403,
}  # fmt: skip
REFERRAL_READERS: dict[str, Outcome] = {
    "ana": OK, "luis": 404, "carmen": 404, "sofia": OK, "miguel": 404, "hogar": OK,
    "refugio": 404, "analista": 403, "admin": 403,
}  # fmt: skip
REFERRAL_KEEPERS: dict[str, Outcome] = {
    "ana": OK, "luis": 404, "carmen": 404, "sofia": OK, "miguel": 404, "hogar": 403,
    "refugio": 403, "analista": 403, "admin": 403,
}  # fmt: skip
ITS_INSTITUTION: dict[str, Outcome] = {
    "ana": 403, "luis": 403, "carmen": 403, "sofia": 403, "miguel": 403, "hogar": OK,
    "refugio": 404, "analista": 403, "admin": 403,
}  # fmt: skip
# The codec server decrypts any payload: supervisors and administrators only.
CODEC_USERS: dict[str, Outcome] = {
    "ana": 403, "luis": 403, "carmen": 403, "sofia": OK, "miguel": OK, "hogar": 403,
    "refugio": 403, "analista": 403, "admin": OK,
}  # fmt: skip
ADMIN_ONLY: dict[str, Outcome] = {**dict.fromkeys(NAMES, 403), "admin": OK}
# Proceedings: caseworkers, supervisors and the prosecutor's office (an institution serving
# the legal step: no user here, see test_proceedings_api); each allowed user acts on a
# proceeding of its own. Linking names an unknown case: the case rules answer 404.
P = f"{PREFIX}/proceedings/{{proceeding_id}}"
PROCEEDING_RECORDERS = CASE_LISTERS
UNKNOWN_CASE = {"case_ids": [str(uuid.UUID(int=1))]}
MATRIX: list[Row] = [
    Row("POST", f"{PREFIX}/auth/token", EVERYONE, public=True, form=True),
    Row("GET", f"{PREFIX}/me", EVERYONE),
    Row("GET", f"{PREFIX}/healthz", EVERYONE, public=True),
    Row("GET", f"{PREFIX}/readyz", EVERYONE, public=True),
    Row("GET", f"{PREFIX}/openapi.json", EVERYONE, public=True),
    Row("GET", f"{PREFIX}/docs", EVERYONE, public=True),
    Row("GET", "/docs/oauth2-redirect", EVERYONE, public=True),
    Row("POST", f"{PREFIX}/cases", CASEWORKERS, ok=201, json=new_case()),
    Row("GET", f"{PREFIX}/cases", CASE_LISTERS),
    Row("GET", f"{PREFIX}/supervision/stuck", SUPERVISORS),
    Row("GET", f"{PREFIX}/supervision/workload", SUPERVISORS),
    Row("GET", f"{PREFIX}/supervision/closures", SUPERVISORS),
    Row("GET", f"{PREFIX}/notifications", EVERYONE),  # each user's own
    Row("POST", f"{PREFIX}/notifications/read", EVERYONE, json={"ids": [str(uuid.uuid4())]}),
    Row("GET", C, CASE_READERS),
    Row("GET", f"{C}/events", CASE_READERS),
    Row("GET", f"{C}/access-log", CASE_SUPERVISOR),
    Row("POST", f"{C}/steps/{{step}}", ASSIGNED_CASEWORKER, json={"action": "start"}),
    Row("POST", f"{C}/notes", ASSIGNED_CASEWORKER, json={"text": "met her at the shelter"}),
    Row(
        "POST",
        f"{C}/consent",
        ASSIGNED_CASEWORKER,
        json={"scope": "data_sharing", "given": False},
    ),
    Row("POST", f"{C}/assignment", CASE_SUPERVISOR, json={"caseworker": "luis"}),
    Row("POST", f"{C}/closure", ASSIGNED_CASEWORKER, json={"reason": "lost_contact"}),
    Row(
        "POST",
        f"{C}/closure/decision",
        CASE_SUPERVISOR,
        json={"approved": False, "note": "keep trying"},
        closure_requested=True,
    ),
    Row(
        "POST",
        f"{C}/steps/{{step}}/overdue/acknowledge",
        CASE_SUPERVISOR,
        json={"note": "seen"},
        ok=409,
        ok_code="step_not_overdue",
    ),
    Row("POST", f"{C}/visas", ASSIGNED_CASEWORKER, ok=201, json=VISA),
    # The admin erases closed cases only: this one is open.
    Row(
        "POST",
        f"{C}/erasure",
        ADMIN_ONLY,
        json={"reason": "her request"},
        ok=409,
        ok_code="case_not_closed",
    ),
    Row("GET", f"{PREFIX}/visas", CASE_LISTERS),
    Row("GET", V, CASE_READERS),
    Row("POST", f"{V}/renewal", ASSIGNED_CASEWORKER, json={"expires_on": "2099-12-31"}),
    Row("POST", f"{V}/cancellation", VISA_KEEPERS, json={"reason": "returned home"}),
    Row("GET", f"{PREFIX}/institutions", EVERYONE),
    Row("GET", f"{PREFIX}/reports/statistics", REPORT_READERS, params=PERIOD),
    Row("GET", f"{PREFIX}/reports/htcds", REPORT_READERS, params=PERIOD),
    Row("GET", f"{PREFIX}/referrals", REFERRAL_LISTERS),
    Row("GET", R, REFERRAL_READERS),
    Row("POST", f"{R}/answer", ITS_INSTITUTION, json={"decision": "accepted"}),
    # Signed by the institution's secret, not by a token: unsigned, everyone gets 401.
    Row("POST", f"{R}/signed-answer", dict.fromkeys(NAMES, 401), json={"decision": "accepted"}),
    Row("POST", f"{R}/revocation", REFERRAL_KEEPERS, json={"reason": "moved"}),
    Row(
        "POST",
        f"{R}/redirection",
        REFERRAL_KEEPERS,
        json={"institution": "casa-refugio", "reason": "no beds"},
    ),
    Row("POST", f"{PREFIX}/codec/decode", CODEC_USERS, json={"payloads": []}),
    Row("POST", f"{PREFIX}/codec/encode", CODEC_USERS, json={"payloads": []}),
    Row(
        "POST",
        f"{PREFIX}/proceedings",
        PROCEEDING_RECORDERS,
        ok=201,
        json={"crime_type": "smuggling"},
    ),
    Row("GET", f"{PREFIX}/proceedings", PROCEEDING_RECORDERS),
    Row("GET", P, PROCEEDING_RECORDERS),
    Row(
        "POST",
        f"{P}/victims",
        PROCEEDING_RECORDERS,
        ok=404,
        ok_code="case_not_found",
        json=UNKNOWN_CASE,
    ),
    Row("POST", f"{P}/imputations", PROCEEDING_RECORDERS, json={"persons": [{"sex": "male"}]}),
    Row("POST", f"{P}/accusation", PROCEEDING_RECORDERS, ok=409, ok_code="nobody_imputed", json={}),
    Row(
        "POST",
        f"{P}/sentence",
        PROCEEDING_RECORDERS,
        ok=409,
        ok_code="not_prosecuted",
        json={"verdict": "acquittal", "convicted": 0},
    ),
    Row("POST", f"{P}/archival", PROCEEDING_RECORDERS, json={"reason": "no_crime"}),
]


def _routes_served() -> set[tuple[str, str]]:
    app = create_app()  # no services: only the routes are read
    served = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                served.add((method, str(route.path)))
    return served


def test_the_matrix_covers_every_route() -> None:
    served = _routes_served()
    rows = {(row.method, row.path) for row in MATRIX}
    assert served - rows == set(), "routes without access rows"
    assert rows - served == set(), "rows for routes the app does not serve"
    assert len(rows) == len(MATRIX), "a route has two rows"
    openapi = create_app().openapi()["paths"]
    documented = {(m.upper(), p) for p, ops in openapi.items() for m in ops}
    assert documented <= rows
    for row in MATRIX:
        assert set(row.who) == set(NAMES), row.id


def assert_problem(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, (answer.request.url, answer.text)
    assert answer.headers["content-type"] == "application/problem+json", answer.headers
    problem: dict[str, Any] = answer.json()
    assert set(problem) >= PROBLEM_FIELDS, problem
    assert problem["status"] == status
    assert all(isinstance(problem[k], str) and problem[k] for k in PROBLEM_FIELDS - {"status"})
    assert problem["type"].endswith(problem["code"])
    if code is not None:
        assert problem["code"] == code, problem
    return problem


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """One client for the whole test (a new one costs ~80 ms: its TLS context)."""
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        yield client


def bearer(api: Api, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[user]}"}


async def call(
    api: Api, http: httpx.AsyncClient, row: Row, case_id: str, *,
    headers: dict[str, str] | None = None, user: str | None = None, case: str | None = None,
    visa_id: str | None = None, referral_id: str | None = None, proceeding_id: str | None = None,
) -> httpx.Response:  # fmt: skip
    """Call `row`'s endpoint for `case_id` (and `visa_id`, `referral_id`, `proceeding_id`)
    with these headers (or as `user`); `case` replaces every id (a missing one)."""
    path = row.path.format(
        case_id=case or case_id,
        visa_id=case or visa_id or uuid.uuid4(),
        referral_id=case or referral_id or uuid.uuid4(),
        proceeding_id=case or proceeding_id or uuid.uuid4(),
        step="identification",
    )
    if user is not None:
        headers = bearer(api, user)
    if row.form:
        form = {"username": user or "ana", "password": PASSWORD}
        return await http.post(path, data=form, headers=headers)
    return await http.request(row.method, path, json=row.json, params=row.params, headers=headers)


async def open_case(api: Api, http: httpx.AsyncClient, user: str = "ana") -> str:
    opened = await http.post(f"{PREFIX}/cases", json=new_case(), headers=bearer(api, user))
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    return case_id


async def register_visa(api: Api, http: httpx.AsyncClient, case_id: str) -> str:
    answer = await http.post(
        f"{PREFIX}/cases/{case_id}/visas", json=VISA, headers=bearer(api, "ana")
    )
    assert answer.status_code == 201, answer.text
    visa_id: str = answer.json()["visa_id"]
    return visa_id


async def refer(api: Api, http: httpx.AsyncClient, case_id: str) -> str:
    """Identify the person and refer the shelter step to hogar: the referral's id."""
    steps = f"{PREFIX}/cases/{case_id}/steps"
    ana = bearer(api, "ana")
    done = {"action": "complete", "outcome": "confirmed_victim"}
    identified = await http.post(f"{steps}/identification", json=done, headers=ana)
    if identified.status_code != 200:  # identified for an earlier referral already
        assert identified.json()["code"] == "step_final", identified.text
        case = await http.get(f"{PREFIX}/cases/{case_id}", headers=ana)
        shelter = next(s for s in case.json()["steps"] if s["step"] == "shelter")
        if shelter["referral_id"]:  # redirected elsewhere: withdraw it first
            revoke = f"{PREFIX}/referrals/{shelter['referral_id']}/revocation"
            revoked = await http.post(revoke, json={"reason": "again"}, headers=ana)
            assert revoked.status_code == 200, revoked.text
    referred = await http.post(
        f"{steps}/shelter", json={"action": "refer", "institution": "hogar-oblatas"}, headers=ana
    )
    assert referred.status_code == 200, referred.text
    referral_id = referral_of(referred.json(), "shelter")
    await delivered(api, referral_id)  # to hogar's inbox: recorded right after
    return referral_id


async def open_proceeding(api: Api, http: httpx.AsyncClient) -> str:
    opened = await http.post(
        f"{PREFIX}/proceedings", json={"crime_type": "trafficking"}, headers=bearer(api, "sofia")
    )
    assert opened.status_code == 201, opened.text
    proceeding_id: str = opened.json()["proceeding_id"]
    return proceeding_id


async def history(api: Api, http: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    """What pett's supervisor sees: the cases (with their versions) and `case_id`'s events."""
    sofia = bearer(api, "sofia")
    listed = await http.get(f"{PREFIX}/cases", params={"limit": 200}, headers=sofia)
    events = await http.get(f"{PREFIX}/cases/{case_id}/events", headers=sofia)
    assert listed.status_code == events.status_code == 200
    return {"cases": listed.json()["items"], "events": events.json()}


async def test_role_matrix(api: Api, http: httpx.AsyncClient, subtests: pytest.Subtests) -> None:
    """Every row, each on a case of its own (one API for all: it is the slow part)."""
    for row in MATRIX:
        with subtests.test(row.id):
            await _check_row(api, http, row)


async def _check_row(api: Api, http: httpx.AsyncClient, row: Row) -> None:
    case_id = await open_case(api, http)
    if row.closure_requested:
        asked = await http.post(
            f"{PREFIX}/cases/{case_id}/closure",
            json={"reason": "lost_contact"},
            headers=bearer(api, "ana"),
        )
        assert asked.status_code == 200, asked.text
    visa_id = await register_visa(api, http, case_id) if row.on_a_visa else None
    referral_id = await refer(api, http, case_id) if row.on_a_referral else None
    proceeding_id = await open_proceeding(api, http) if row.on_a_proceeding else None
    before = await history(api, http, case_id)

    # Refusals first: none of them may change anything.
    missing = str(uuid.uuid4())
    for name in (name for name in NAMES if row.who[name] != OK):
        answer = await call(
            api, http, row, case_id, user=name, visa_id=visa_id, referral_id=referral_id,
            proceeding_id=proceeding_id,
        )  # fmt: skip
        if row.who[name] == 403:
            assert_problem(answer, 403, "forbidden")
            continue
        if row.who[name] == 401:
            assert_problem(answer, 401)
            assert answer.json()["code"].startswith("signature_"), answer.text
            continue
        hidden = assert_problem(answer, 404, row.hidden_code)
        # Not visible answers exactly like not there: the case's existence is not revealed.
        absent = await call(api, http, row, case_id, user=name, case=missing)
        assert absent.status_code == 404
        assert absent.json() == hidden
        assert absent.headers["content-type"] == answer.headers["content-type"]
    assert await history(api, http, case_id) == before, "a refused request changed something"

    for name in (name for name in NAMES if row.who[name] == OK):
        if row.on_a_visa and row.method == "POST":  # each allowed user acts on a visa of its own
            visa_id = await register_visa(api, http, case_id)
        if row.on_a_referral and row.method == "POST" and referral_id is None:
            referral_id = await refer(api, http, case_id)  # the one before is final now
        if row.on_a_proceeding and row.method == "POST":
            proceeding_id = await open_proceeding(api, http)
        answer = await call(
            api, http, row, case_id, user=name, visa_id=visa_id, referral_id=referral_id,
            proceeding_id=proceeding_id,
        )  # fmt: skip
        if row.on_a_referral and row.method == "POST":
            referral_id = None
        if row.ok_code is not None:
            assert_problem(answer, row.ok, row.ok_code)
        else:
            assert answer.status_code == row.ok, (name, answer.text)
        if row.path == f"{PREFIX}/me":
            assert answer.json()["username"] == name
        if row.path == C:
            assert answer.json()["case_id"] == case_id
        if (
            (row.on_a_case or row.on_a_visa or row.on_a_referral)
            and row.method == "POST"
            and row.ok in (200, 201)
        ):
            # The allowed command changed the case, and the next read shows it.
            after = await http.get(f"{PREFIX}/cases/{case_id}", headers=bearer(api, "sofia"))
            assert after.json()["version"] > before["events"][-1]["version"]
        if row.on_a_case or row.on_a_visa or row.on_a_referral:  # unknown: 404 to all
            absent = await call(api, http, row, case_id, user=name, case=missing)
            assert_problem(absent, 404, row.hidden_code)


async def test_case_lists_show_only_visible_cases(api: Api, http: httpx.AsyncClient) -> None:
    ours = await open_case(api, http)
    theirs = await open_case(api, http, "carmen")
    expected = {
        "ana": {ours}, "luis": set(), "carmen": {theirs}, "sofia": {ours}, "miguel": {theirs},
    }  # fmt: skip
    for name, ids in expected.items():
        listed = await http.get(f"{PREFIX}/cases", headers=bearer(api, name))
        assert listed.status_code == 200, listed.text
        assert {c["case_id"] for c in listed.json()["items"]} == ids, name
        # Asking for someone else's cases does not widen the scope.
        others = await http.get(
            f"{PREFIX}/cases", params={"assigned_to": "carmen"}, headers=bearer(api, name)
        )
        assert {c["case_id"] for c in others.json()["items"]} <= ids, name


async def test_role_is_checked_before_the_body_is_read(api: Api, http: httpx.AsyncClient) -> None:
    case_id = await open_case(api, http)
    nonsense = {"nonsense": [1]}
    for path in (
        "/cases",
        f"/cases/{case_id}/notes",
        f"/cases/{case_id}/assignment",
        f"/cases/{case_id}/visas",
    ):
        url = f"{PREFIX}{path}"
        analyst = await http.post(url, json=nonsense, headers=bearer(api, "analista"))
        assert_problem(analyst, 403, "forbidden")
        assert_problem(await http.post(url, json=nonsense), 401, "not_authenticated")
    sofia = await http.post(f"{PREFIX}/cases", json=nonsense, headers=bearer(api, "sofia"))
    assert_problem(sofia, 403, "forbidden")
    ana = await http.post(
        f"{PREFIX}/cases/{case_id}/assignment", json={}, headers=bearer(api, "ana")
    )
    assert_problem(ana, 403, "forbidden")


def _expired_token(api: Api, username: str) -> str:
    """A token issued a day ago with an eight-hour life: expired by the app's clock."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    engine = api.users._engine  # the app's own database
    past = UserDirectory(engine, token_ttl=timedelta(hours=8), clock=lambda: yesterday)
    user = api.users.get(username)
    assert user is not None
    return past.issue_token(user).access_token


SignedOut = Literal["none", "wrong_scheme", "garbage", "expired", "revoked", "disabled"]


async def _bad_credentials(
    api: Api, http: httpx.AsyncClient, how: SignedOut, case_id: str
) -> tuple[dict[str, str], str]:
    """Headers that sign nobody in, and the problem code they must get."""
    if how == "none":
        return {}, "not_authenticated"
    if how == "wrong_scheme":
        return {"Authorization": f"Basic {api.tokens['ana']}"}, "not_authenticated"
    if how == "garbage":
        return {"Authorization": "Bearer not-a-token-at-all"}, "invalid_token"
    if how == "expired":
        return {"Authorization": f"Bearer {_expired_token(api, 'ana')}"}, "invalid_token"
    # Revoked and disabled: the token works, then stops working at once.
    user = api.users.get("ana")
    assert user is not None
    headers = {"Authorization": f"Bearer {api.users.issue_token(user).access_token}"}
    assert (await http.get(f"{PREFIX}/cases/{case_id}", headers=headers)).status_code == 200
    if how == "revoked":
        api.users.revoke(headers["Authorization"].removeprefix("Bearer "))
    else:
        api.users.disable("ana")
    return headers, "invalid_token"


async def test_signed_out_gets_401_everywhere_but_public_endpoints(
    api: Api, http: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    # "disabled" last: it ends ana's sessions.
    for how in ("none", "wrong_scheme", "garbage", "expired", "revoked", "disabled"):
        with subtests.test(how):
            await _check_signed_out(api, http, how)


async def _check_signed_out(api: Api, http: httpx.AsyncClient, how: SignedOut) -> None:
    case_id = await open_case(api, http)
    before = await history(api, http, case_id)
    headers, code = await _bad_credentials(api, http, how, case_id)
    for row in MATRIX:
        answer = await call(api, http, row, case_id, headers=headers)
        if row.public:
            # The token endpoint reads no bearer; it signs ana in, unless she is disabled.
            expected = 401 if row.form and how == "disabled" else 200
            assert answer.status_code == expected, (row.id, answer.text)
            continue
        if row.signed:  # no signature: 401, whatever the bearer says
            assert_problem(answer, 401)
            assert answer.json()["code"].startswith("signature_"), answer.text
            continue
        assert_problem(answer, 401, code)
        assert answer.headers["www-authenticate"] == "Bearer", row.id
        if row.on_a_case or row.on_a_visa:  # the same for a missing one: nothing shows
            absent = await call(api, http, row, case_id, headers=headers, case=str(uuid.uuid4()))
            assert_problem(absent, 401, code)
    assert await history(api, http, case_id) == before


async def test_a_disabled_user_cannot_sign_in_again(api: Api, http: httpx.AsyncClient) -> None:
    api.users.add("pedro", role=Role.CASEWORKER, password=PASSWORD, institution="pett")
    token = await api.sign_in("pedro")
    api.users.disable("pedro")
    again = await http.post(
        f"{PREFIX}/auth/token", data={"username": "pedro", "password": PASSWORD}
    )
    assert_problem(again, 401, "invalid_credentials")
    wrong = await http.post(f"{PREFIX}/auth/token", data={"username": "ana", "password": "no"})
    assert_problem(wrong, 401, "invalid_credentials")
    gone = await http.get(f"{PREFIX}/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(gone, 401, "invalid_token")
    # The other users' sessions are untouched.
    assert (await http.get(f"{PREFIX}/me", headers=bearer(api, "ana"))).status_code == 200


async def test_unknown_paths_and_methods_are_problems(api: Api, http: httpx.AsyncClient) -> None:
    ana = bearer(api, "ana")
    for row in MATRIX:
        path = row.path.format(
            case_id=uuid.uuid4(),
            visa_id=uuid.uuid4(),
            referral_id=uuid.uuid4(),
            proceeding_id=uuid.uuid4(),
            step="identification",
        )
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - {row.method}:
            if (method, row.path) in {(r.method, r.path) for r in MATRIX}:
                continue
            answer = await http.request(method, path, headers=ana)
            assert_problem(answer, 405, "method_not_allowed")
    for path in (f"{PREFIX}/nowhere", f"{PREFIX}/cases/{uuid.uuid4()}/nowhere", "/"):
        assert_problem(await http.get(path, headers=ana), 404, "not_found")
        assert_problem(await http.get(path), 404, "not_found")

"""No error answer and no log line repeats a person's data sent to the API.

Invalid bodies carrying a distinctive name and note go through several endpoints (and a
name search goes through `?q=`, on a server writing uvicorn's access log); neither the
problem bodies nor anything logged meanwhile (the API, the worker, Temporal's SDK, all in
this process) may contain them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn

from amparo.devstack import DevServer
from amparo.logging import configure_logging
from amparo.settings import Settings
from api.app import build_services, create_app
from tests.api.conftest import TEST_REGISTRY, Api, free_port, new_case, running_api

GIVEN = "Xiomara"
FAMILY = "Quisqueyana"
NOTE = "zafra-recruiter-7731 took her papers"
SECRETS = (GIVEN, FAMILY, "zafra-recruiter-7731")


def person(**changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = new_case()["person"]  # type: ignore[assignment]
    return found | {"given_name": GIVEN, "family_name": FAMILY} | changes


def assert_nothing_personal(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), (where, secret, text[:2000])


@pytest.fixture
def log_output(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Amparo's logging (JSON, DEBUG: as much as anything logs) into the captured stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield capsys
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


async def _invalid_requests(api: Api, case_id: str) -> list[httpx.Response]:
    """Requests the API refuses, each carrying the name or the note."""
    too_long = GIVEN + " " + FAMILY * 20
    answers = []
    async with api.client("ana") as ana:
        for body in (
            new_case(person=person(given_name=too_long)),
            new_case(person=person(given_name=GIVEN + "\n")),  # a control character
            new_case(person=person(birth_date="not-a-date")),
            new_case(person=person(**{f"{GIVEN} {FAMILY}": "x"})),  # the name as a key
            new_case(person=f"{GIVEN} {FAMILY}"),
            new_case(location=NOTE * 200),
        ):
            answers.append(await ana.post("/cases", json=body))
        answers += [
            await ana.post(f"/cases/{case_id}/notes", json={"text": NOTE * 100}),
            await ana.post(f"/cases/{case_id}/notes", json={"text": NOTE + "\x00"}),
            await ana.post(f"/cases/{case_id}/notes", json={"text": NOTE, "step": GIVEN}),
            await ana.post(f"/cases/{case_id}/closure", json={"reason": NOTE}),
            await ana.post(
                f"/cases/{case_id}/steps/identification", json={"action": GIVEN, "note": NOTE}
            ),
            await ana.post(
                f"/cases/{case_id}/visas",
                json={"kind": "work", "number": GIVEN * 10, "issued_on": NOTE},
            ),
            await ana.post(
                f"/cases/{case_id}/notes",
                content=f'{{"text": "{NOTE}", }}',
                headers={"Content-Type": "application/json"},
            ),
            # Refused by the rules of the path (409): the note is not repeated either.
            await ana.post(
                f"/cases/{case_id}/steps/shelter", json={"action": "start", "note": NOTE}
            ),
            await ana.get("/cases", params={"q": GIVEN * 40}),  # too long a search
            await ana.get("/visas", params={"case_id": GIVEN}),
        ]
    async with api.client("hogar") as hogar:
        answers.append(await hogar.post(f"/referrals/{case_id}/answer", json={"note": NOTE}))
    async with api.client() as anonymous:
        answers.append(
            await anonymous.post("/auth/token", data={"username": GIVEN, "password": FAMILY})
        )
        answers.append(await anonymous.get("/cases", params={"q": GIVEN}))  # not signed in
    return answers


async def test_errors_and_logs_do_not_repeat_what_was_sent(
    api: Api, log_output: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json")
    async with api.client("ana") as ana:
        opened = await ana.post("/cases", json=new_case())
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
    answers = await _invalid_requests(api, case_id)
    for answer in answers:
        where = f"{answer.request.method} {answer.request.url.path}"
        assert answer.status_code >= 400, (where, answer.text)
        assert answer.headers["content-type"] == "application/problem+json", where
        assert_nothing_personal(answer.text, where)
        parsed = json.dumps(answer.json(), ensure_ascii=False)  # escapes undone
        assert_nothing_personal(parsed, where)
    statuses = {a.status_code for a in answers}
    assert {401, 409, 422} <= statuses
    first = answers[0].json()
    assert first["errors"][0]["field"] == "person.given_name"  # where and what stay
    assert "at most" in first["errors"][0]["message"]
    named_key = answers[3].json()["errors"][0]
    assert named_key["field"] == "person.*", named_key
    assert_nothing_personal(log_output.readouterr().err, "the log")


@asynccontextmanager
async def _access_logging_server(dev_server: DevServer, tmp_path: Path) -> AsyncIterator[str]:
    """The same app and database as `running_api`'s, served by uvicorn with its access log."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'amparo.db'}",
        temporal_address=dev_server.config.address,
        data_dir=tmp_path,
        institutions_file=TEST_REGISTRY,
    )
    app = create_app(await build_services(settings))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True)
    server = uvicorn.Server(config)
    # The embedded API server (`access_log=False`) stopped the access logger propagating
    # to Amparo's handler: as in a deployment serving with uvicorn's access log, it does.
    access = logging.getLogger("uvicorn.access")
    propagating, access.propagate = access.propagate, True
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server stopped before it started"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        server.should_exit = True
        await serving
        access.propagate = propagating


async def test_a_name_search_stays_out_of_the_access_log(
    api_dev_server: DevServer, tmp_path: Path, log_output: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    async with running_api(api_dev_server, tmp_path) as api:
        async with api.client("ana") as ana:
            body = new_case(person=person())
            assert (await ana.post("/cases", json=body)).status_code == 201
        async with _access_logging_server(api_dev_server, tmp_path) as base_url:
            headers = {"Authorization": f"Bearer {api.tokens['ana']}"}
            async with httpx.AsyncClient(base_url=base_url, headers=headers) as ana:
                found = await ana.get("/cases", params={"q": GIVEN.lower()})
                assert found.status_code == 200, found.text
                assert found.json()["items"][0]["person"]["given_name"] == GIVEN
                refused = await ana.get("/cases", params={"q": GIVEN * 40})
                assert refused.status_code == 422
                assert_nothing_personal(refused.text, "a refused search")
    err = log_output.readouterr().err
    access = [json.loads(line)["event"] for line in err.splitlines() if "uvicorn.access" in line]
    assert any(a.endswith('"GET /api/v1/cases HTTP/1.1" 200') for a in access), access
    assert_nothing_personal(err, "the log")

"""Personal data never reaches the log: fields at any depth, stdlib records (uvicorn's
access log, Temporal's SDK), text quoting a field, exceptions quoting their input."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import structlog
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import StatementError

from amparo.logging import (
    PERSONAL_KEYS,
    REDACTED,
    configure_logging,
    drop_personal_data,
    mask,
    scrub_text,
)

NAME = "Xiomara Quisqueya"  # distinctive: found nowhere else in a log line
NOTE = "she fears the recruiter in Higüey"


Logged = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> Iterator[Logged]:
    """JSON logging to the captured stderr; call it for the lines written since."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("DEBUG", "json")
    # The handler writes to stderr as it is when the test runs (capsys's), not as it was
    # during set-up (pytest's own capture then).
    root.handlers[0].setStream(_CurrentStderr())  # type: ignore[attr-defined]

    def read() -> list[dict[str, Any]]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.strip()]

    yield read
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


class _CurrentStderr:
    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def dump(lines: list[dict[str, Any]]) -> str:
    return json.dumps(lines, ensure_ascii=False)


def test_personal_keys_cover_the_issue() -> None:
    wanted = {"given_name", "family_name", "birth_date", "person", "text", "note", "notes",
              "reason", "number", "contact", "phone", "email", "address", "q",
              "consent_override"}  # fmt: skip
    assert wanted <= PERSONAL_KEYS


def test_nested_fields_are_masked_at_any_depth() -> None:
    event = {
        "event": "case opened",
        "case_id": "c-1",
        "command": {
            "person": {"given_name": NAME},
            "steps": [{"step": "shelter", "note": NOTE}, ({"Phone": "+1 809"},)],
            "visa": {"number": "W-1", "kind": "work"},
        },
        "GIVEN_NAME": NAME,
    }
    masked = drop_personal_data(None, "info", event)
    assert masked["case_id"] == "c-1"
    assert masked["GIVEN_NAME"] == REDACTED
    command = masked["command"]
    assert command["person"] == REDACTED
    assert command["steps"][0] == {"step": "shelter", "note": REDACTED}
    assert command["steps"][1] == [{"Phone": REDACTED}]
    assert command["visa"] == {"number": REDACTED, "kind": "work"}


def test_models_are_masked_like_dicts() -> None:
    class Person(BaseModel):
        given_name: str
        nationality: str
        birth_date: date

    masked = mask({"who": [Person(given_name=NAME, nationality="VE", birth_date=date(1990, 1, 2))]})
    assert masked == {
        "who": [{"given_name": REDACTED, "nationality": "VE", "birth_date": REDACTED}]
    }


def test_text_quoting_a_field_is_masked() -> None:
    quoted = [
        f"Person(given_name='{NAME}', sex='female')",
        f"{{'note': '{NOTE}', 'step': 'legal'}}",
        f'{{"text": "{NOTE}", "case_id": "c-1"}}',
        f"[type=string_too_long, input_value='{NAME}', input_type=str]",
        "GET /api/v1/cases?q=Xiomara&limit=5",
        f"notes=['{NOTE}', 'again']",
    ]
    for line in quoted:
        scrubbed = scrub_text(line)
        assert NAME not in scrubbed and NOTE not in scrubbed and "Xiomara" not in scrubbed
        assert REDACTED in scrubbed
    assert scrub_text("step shelter overdue since 2025-01-02") == (
        "step shelter overdue since 2025-01-02"
    )


def test_structlog_lines_are_masked(logged: Logged) -> None:
    log = structlog.get_logger("amparo.test")
    log.info("opened", case_id="c-1", person={"given_name": NAME}, notes=[NOTE])
    log.warning(f"refused for {{'note': '{NOTE}'}}", extra_info={"q": NAME})
    lines = logged()
    dumped = dump(lines)
    assert NAME not in dumped and NOTE not in dumped
    assert lines[0]["case_id"] == "c-1" and lines[0]["person"] == REDACTED


def test_stdlib_records_are_masked(logged: Logged) -> None:
    """Temporal's SDK and other libraries log through the stdlib: extras and %-arguments."""
    temporal = logging.getLogger("temporalio.worker._workflow_instance")
    temporal.warning(
        "Failed handling update %s: %s",
        "add_note",
        {"text": NOTE, "command_id": "k-1"},
        extra={"temporal_workflow": {"workflow_id": "case-1"}, "person": {"family_name": NAME}},
    )
    logging.getLogger("some.library").info("searching %(q)s", {"q": NAME})
    lines = logged()
    dumped = dump(lines)
    assert NAME not in dumped and NOTE not in dumped
    assert lines[0]["temporal_workflow"] == {"workflow_id": "case-1"}
    assert "k-1" in str(lines[0]["event"])


def test_the_access_log_loses_the_query_string(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = logging.getLogger("uvicorn.access")
    # A uvicorn run earlier in the process configures it its own way (its handler, not
    # propagating): here it goes through the root logger, as `configure_logging` sets it.
    monkeypatch.setattr(access, "disabled", False)
    monkeypatch.setattr(access, "level", logging.NOTSET)
    monkeypatch.setattr(access, "propagate", True)
    monkeypatch.setattr(access, "handlers", [])
    access.info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/v1/cases?q=Xiomara", "1.1", 200
    )
    lines = logged()
    dumped = dump(lines)
    assert "Xiomara" not in dumped
    assert lines[0]["event"] == '127.0.0.1:5000 - "GET /api/v1/cases HTTP/1.1" 200'


def test_the_access_log_loses_it_with_uvicorns_own_handler(
    logged: Logged, capsys: pytest.CaptureFixture[str]
) -> None:
    """uvicorn's default configuration gives its access logger a handler of its own."""
    access = logging.getLogger("uvicorn.access")
    own = logging.StreamHandler()
    access.addHandler(own)
    access.propagate = False
    try:
        access.info('%s - "%s %s HTTP/%s" %d', "ip", "GET", "/cases?q=Xiomara", "1.1", 200)
    finally:
        access.removeHandler(own)
        access.propagate = True
    assert "Xiomara" not in capsys.readouterr().err


def _validation_error() -> ValidationError:
    class PersonIn(BaseModel):
        given_name: str = Field(max_length=5)

    try:
        PersonIn(given_name=NAME)
    except ValidationError as error:
        return error
    raise AssertionError("validated")


def test_exceptions_do_not_carry_their_input(logged: Logged) -> None:
    log = structlog.get_logger("amparo.test")
    error = _validation_error()
    assert NAME in str(error)  # what pydantic would print
    try:
        raise RuntimeError("could not open the case") from error
    except RuntimeError:
        log.exception("failed")
    try:
        raise error
    except ValidationError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = logged()
    dumped = dump(lines)
    assert NAME not in dumped
    assert "given_name: String should have at most 5 characters" in dumped
    assert "could not open the case" in dumped  # other messages stay


def test_request_validation_errors_do_not_carry_the_body(logged: Logged) -> None:
    from fastapi.exceptions import RequestValidationError

    error = RequestValidationError(
        [{"type": "string_too_long", "loc": ("body", "given_name"), "msg": "too long",
          "input": NAME, "ctx": {"max_length": 5}}],
        body={"given_name": NAME, "note": NOTE},
    )  # fmt: skip
    try:
        raise error
    except RequestValidationError:
        logging.getLogger("uvicorn.error").error("boom", exc_info=True)
    lines = logged()
    dumped = dump(lines)
    assert NAME not in dumped and NOTE not in dumped
    assert "body.given_name: too long" in dumped


def test_database_errors_do_not_carry_their_parameters(logged: Logged) -> None:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM nowhere WHERE name = :name"), {"name": NAME})
    except StatementError:
        structlog.get_logger("amparo.test").exception("read failed")
    lines = logged()
    dumped = dump(lines)
    assert NAME not in dumped
    assert "no such table: nowhere" in dumped


def test_a_servers_address_stays_a_home_address_does_not() -> None:
    event = {"event": "temporal dev server starting", "address": "127.0.0.1:7233"}
    assert drop_personal_data(None, "info", event)["address"] == "127.0.0.1:7233"
    home = {"event": "x", "address": "Calle 5 #12, Higüey", "contact": {"address": "7233"}}
    masked = drop_personal_data(None, "info", home)
    assert masked["address"] == REDACTED and masked["contact"] == REDACTED

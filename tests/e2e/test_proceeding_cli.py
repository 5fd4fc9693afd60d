"""`amparo proceeding` against `amparo dev`: a caseworker's proceeding from opening to
sentence, the prosecutor's office's view without case ids, one-line errors, and the
analyst's statistical report counting it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_dev_stack import Stack
from tests.e2e.test_visa_cli import one_line_error

PASSWORD = "a long enough password\n"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A running stack (the demo registry) with caseworker ana and prosecutor fiscal."""
    running = Stack(tmp_path / "data")
    running.start()
    try:
        for name, role, institution in (
            ("ana", "caseworker", "pett"),
            ("fiscal", "institution", "procuraduria-pett"),
        ):
            added = running.cli(
                "users", "add", name, "--role", role, "--institution", institution, stdin=PASSWORD
            )
            assert added.returncode == 0, added.stderr
        yield running
    finally:
        if running.proc is not None:
            running.stop()


def ok(stack: Stack, *args: str) -> str:
    done = stack.cli(*args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


@pytest.mark.timeout(240)
def test_proceeding_commands_against_the_dev_stack(stack: Stack) -> None:
    assert stack.cli("login", "ana", stdin=PASSWORD).returncode == 0
    case_id = ok(
        stack, "case", "open", "--crime-type", "trafficking", "--given-name", "Rosa",
        "--family-name", "Peña", "--sex", "female", "--nationality", "VE",
    ).strip()  # fmt: skip
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    pid = ok(
        stack, "proceeding", "open", "--crime-type", "trafficking", "--case", case_id,
        "--reference", "PETT-2026/1", "--occurred-at", yesterday,
    ).strip()  # fmt: skip
    shown = ok(stack, "proceeding", "show", pid)
    assert f"proceeding {pid}  trafficking  investigation  victims 1  imputed 0" in shown
    assert f"case {case_id}" in shown and "reference PETT-2026/1" in shown
    assert f"opened {yesterday[:10]}" in shown

    one_line_error(stack.cli("proceeding", "accuse", pid), "nobody_imputed")
    imputed = ok(stack, "proceeding", "impute", pid, "--person", "male:DO", "--person", "female")
    assert "imputed 2" in imputed
    assert "prosecution" in ok(stack, "proceeding", "accuse", pid)
    sentenced = ok(
        stack, "proceeding", "sentence", pid, "--verdict", "condemnatory", "--convicted", "1"
    )
    assert "sentenced  victims 1  imputed 2  condemnatory, 1 convicted" in sentenced
    listed = ok(stack, "proceeding", "list", "--stage", "sentenced").splitlines()
    assert listed[0].split()[:3] == ["proceeding", "crime", "stage"]
    assert [line.split()[0] for line in listed[2:]] == [pid]

    one_line_error(stack.cli("proceeding", "archive", pid, "--reason", "other"), "proceeding_final")
    other = ok(stack, "proceeding", "open", "--crime-type", "smuggling").strip()
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    one_line_error(
        stack.cli("proceeding", "archive", other, "--reason", "no_crime", "--occurred-at", future),
        "occurred_in_future",
    )
    one_line_error(
        stack.cli("proceeding", "accuse", other, "--occurred-at", "last week"), "invalid_input"
    )
    one_line_error(stack.cli("proceeding", "impute", other, "--person", "robot"), "invalid_input")
    one_line_error(
        stack.cli("proceeding", "impute", other, "--person", "male:Peru"), "invalid_input"
    )
    missing = "00000000-0000-4000-8000-000000000000"
    one_line_error(stack.cli("proceeding", "accuse", missing), "proceeding_not_found")
    one_line_error(stack.cli("proceeding", "link", other, "--case", missing), "case_not_found")
    assert "archived" in ok(stack, "proceeding", "archive", other, "--reason", "no_crime")

    # The prosecutor's office sees the proceedings, with no case ids.
    assert stack.cli("login", "fiscal", stdin=PASSWORD).returncode == 0
    seen = ok(stack, "proceeding", "show", pid)
    assert "victims 1" in seen and case_id not in seen
    one_line_error(stack.cli("proceeding", "link", pid, "--case", case_id), "case_not_found")

    # The analyst's report counts the proceeding; analysts reach nothing else.
    added = stack.cli("users", "add", "analista", "--role", "analyst", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert stack.cli("login", "analista", stdin=PASSWORD).returncode == 0
    today = datetime.now(UTC).date()
    period = ["--from", str(today - timedelta(days=3)), "--to", str(today + timedelta(days=1))]
    report = json.loads(ok(stack, "report", "statistics", *period))
    (trafficking,) = [f for f in report["figures"] if f["crime_type"] == "trafficking"]
    assert trafficking["values"] == {
        "cases_prosecuted": 1,
        "imputed_persons": 2,
        "cases_under_investigation": 1,
        "identified_victims": 0,
        "condemnatory_sentences": 1,
        "convicted_persons": 1,
    }
    public = json.loads(ok(stack, "report", "statistics", *period, "--public"))
    (trafficking,) = [f for f in public["figures"] if f["crime_type"] == "trafficking"]
    assert trafficking["values"]["imputed_persons"] == "<5"
    html = stack.data_dir.parent / "report.html"
    ok(stack, "report", "statistics", *period, "--format", "html", "-o", str(html))
    assert "Cases prosecuted" in html.read_text()
    assert ok(stack, "report", "htcds", *period).startswith("yearOfRegistration,")
    one_line_error(
        stack.cli("report", "statistics", "--from", "2017-06-30", "--to", "2017-01-01"),
        "invalid_period",
    )
    one_line_error(
        stack.cli("report", "statistics", "--from", "30/06/2017", "--to", "2017-07-01"),
        "invalid_input",
    )
    one_line_error(stack.cli("case", "list"), "forbidden")

"""`amparo visa` as a caseworker runs it against `amparo dev`: add, expiring, renew, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e.test_dev_stack import Stack

TODAY = date.today()
PASSWORD = "a long enough password\n"


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@pytest.fixture
def signed_in(tmp_path: Path) -> Iterator[Stack]:
    """A running stack with caseworker ana signed in."""
    running = Stack(tmp_path / "data")
    running.start()
    try:
        added = running.cli(
            "users", "add", "ana", "--role", "caseworker", "--institution", "pett", stdin=PASSWORD
        )
        assert added.returncode == 0, added.stderr
        assert running.cli("login", "ana", stdin=PASSWORD).returncode == 0
        yield running
    finally:
        if running.proc is not None:
            running.stop()


def one_line_error(result: object, code: str) -> None:
    assert getattr(result, "returncode", None) == 1
    stderr = str(getattr(result, "stderr", ""))
    assert stderr.strip().startswith(f"error: {code}: "), stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


@pytest.mark.timeout(240)
def test_visa_commands_against_the_dev_stack(signed_in: Stack) -> None:
    stack = signed_in
    opened = stack.cli(
        "case", "open", "--crime-type", "trafficking", "--given-name", "Rosa",
        "--family-name", "Peña", "--sex", "female", "--nationality", "VE",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    case_id = opened.stdout.strip()

    def add(expires_in: int, number: str) -> str:
        added = stack.cli(
            "visa", "add", case_id, "--kind", "temporary_residence", "--number", number,
            "--issued-on", day(-100), "--expires-on", day(expires_in),
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        return added.stdout.strip()

    soon, later = add(20, "CE-1"), add(200, "CE-2")

    expiring = stack.cli("visa", "expiring")
    assert expiring.returncode == 0, expiring.stderr
    lines = expiring.stdout.splitlines()
    assert lines[0].split()[:4] == ["visa", "case", "kind", "expires"]
    assert [line.split()[0] for line in lines[2:]] == [soon]
    assert lines[2].split()[3:5] == [day(20), "20"]
    assert "CE-1" not in expiring.stdout  # a list never shows a number
    year = stack.cli("visa", "expiring", "--within-days", "365").stdout.splitlines()
    assert [line.split()[0] for line in year[2:]] == [soon, later]

    renewed = stack.cli("visa", "renew", soon, "--expires-on", day(400), "--number", "CE-9")
    assert renewed.returncode == 0, renewed.stderr
    assert f"expires {day(400)}" in renewed.stdout and "renewals 1" in renewed.stdout
    assert "(none)" in stack.cli("visa", "expiring").stdout

    cancelled = stack.cli("visa", "cancel", later, "--reason", "returned home")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled" in cancelled.stdout

    one_line_error(stack.cli("visa", "renew", later, "--expires-on", day(500)), "visa_cancelled")
    backwards = stack.cli(
        "visa", "add", case_id, "--kind", "work", "--number", "W-1",
        "--issued-on", day(-10), "--expires-on", day(-20),
    )  # fmt: skip
    one_line_error(backwards, "visa_expiry_before_issue")
    not_a_date = stack.cli(
        "visa", "add", case_id, "--kind", "work", "--number", "W-1",
        "--issued-on", "yesterday", "--expires-on", day(90),
    )  # fmt: skip
    assert not_a_date.returncode == 2 and "issued-on" in not_a_date.stderr

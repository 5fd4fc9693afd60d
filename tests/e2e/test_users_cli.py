"""`amparo users` as an administrator runs it: add from a script, list, disable, mistakes.

Runs the real `amparo` process once `users` is registered in `amparo.cli.main`; until
then, the `users` Typer app itself through Click's test runner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amparo.cli import users as users_cli
from amparo.settings import get_settings
from amparo.users import UserDirectory
from store.db import make_engine
from store.migrate import upgrade

AMPARO = [sys.executable, "-m", "amparo.cli.main"]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


Amparo = Callable[..., Outcome]


@pytest.fixture(scope="module")
def registered() -> bool:
    """Whether `amparo users` exists in the real command yet."""
    probe = subprocess.run(
        [*AMPARO, "users", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return probe.returncode == 0


@pytest.fixture
def amparo(registered: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Amparo]:
    """`amparo users …` on a fresh data dir, as a process or through the test runner."""
    monkeypatch.delenv("AMPARO_DATABASE_URL", raising=False)
    monkeypatch.setenv("AMPARO_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()

    def run(*args: str, stdin: str = "") -> Outcome:
        if registered:
            done = subprocess.run(
                [*AMPARO, "users", *args],
                input=stdin,
                capture_output=True,
                text=True,
                env=dict(os.environ),
                timeout=60,
                check=False,
            )
            return Outcome(done.returncode, done.stdout, done.stderr)
        result = CliRunner().invoke(users_cli.app, list(args), input=stdin)
        return Outcome(result.exit_code, result.stdout, result.stderr)

    yield run
    get_settings.cache_clear()


def test_users_are_added_from_a_script_listed_and_disabled(amparo: Amparo, tmp_path: Path) -> None:
    added = amparo(
        "add", "ana", "--role", "caseworker", "--institution", "migracion", stdin="pw-amparo-123\n"
    )
    assert (added.code, added.stderr) == (0, "")
    assert "ana" in added.stdout
    amparo("add", "admin", "--role", "admin", "--language", "en", stdin="pw-amparo-456\n")

    listed = amparo("list")
    assert listed.code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["username", "role", "institution", "language", "status"]
    assert [line.split() for line in lines[2:]] == [
        ["admin", "admin", "-", "en", "active"],
        ["ana", "caseworker", "migracion", "es", "active"],
    ]
    assert "argon2" not in listed.stdout

    assert amparo("disable", "ana").code == 0
    assert amparo("list").stdout.splitlines()[3].split()[-1] == "disabled"


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[UserDirectory]:
    """The directory the commands use (the data dir's SQLite file), for checks and setup."""
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield UserDirectory(engine)
    engine.dispose()


def test_the_password_is_the_first_line_of_stdin(amparo: Amparo, directory: UserDirectory) -> None:
    amparo("add", "ana", "--role", "analyst", stdin="first-line-pw\nsecond-line-pw\n")

    assert directory.authenticate("ana", "first-line-pw").username == "ana"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["add", "ana", "--role", "admin"],
            "pw-amparo-789\n",
            "error: user_exists: user 'ana' already exists",
        ),
        (
            ["add", "bob", "--role", "boss"],
            "pw-amparo-789\n",
            "error: invalid_user: unknown role 'boss' "
            "(one of caseworker, supervisor, institution, analyst, admin)",
        ),
        (
            ["add", "bob", "--role", "caseworker"],
            "pw-amparo-789\n",
            "error: invalid_user: a caseworker user needs an institution",
        ),
        (
            ["add", "bob", "--role", "admin"],
            "short\n",
            "error: invalid_user: the password needs at least 10 characters",
        ),
        (["add", "bob", "--role", "admin"], "", "error: invalid_user: the password needs at least"),
        (["disable", "nobody"], "", "error: unknown_user: no user 'nobody'"),
    ],
    ids=["taken", "bad-role", "no-institution", "short-password", "no-password", "unknown"],
)
def test_mistakes_are_one_line_and_exit_1(
    amparo: Amparo, directory: UserDirectory, args: list[str], stdin: str, message: str
) -> None:
    ana = directory.add("ana", role="analyst", password="pw-amparo-123")

    refused = amparo(*args, stdin=stdin)

    assert refused.code == 1
    assert len(refused.stderr.splitlines()) == 1
    assert refused.stderr.startswith(message)
    assert directory.list() == [ana]

"""`amparo users add|disable|list`: the people who may sign in to the API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from amparo.cli.common import fail, settings
from amparo.cli.tables import print_table
from amparo.users import LANGUAGES, Role, User, UserDirectory, UserError
from store.db import make_engine
from store.migrate import upgrade

app = typer.Typer(help="Add, disable and list users.", no_args_is_help=True)


@contextmanager
def _directory() -> Iterator[UserDirectory]:
    """The directory on the configured database, migrated first (a no-op when current)."""
    url = settings().effective_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        yield UserDirectory(engine)
    except UserError as error:
        fail(f"{error.code}: {error.detail}")
    finally:
        engine.dispose()


def _password() -> str:
    """Asked twice, hidden, on a terminal; otherwise one line of stdin (for scripts)."""
    if sys.stdin.isatty():
        password: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="username: 2-64 of a-z 0-9 . _ -")],
    role: Annotated[str, typer.Option(help=", ".join(Role))],
    institution: Annotated[
        str | None, typer.Option(help="required for caseworker, supervisor, institution")
    ] = None,
    language: Annotated[str, typer.Option(help=", ".join(LANGUAGES))] = "es",
    email: Annotated[
        str | None, typer.Option(help="where notifications are emailed (else: the inbox only)")
    ] = None,
) -> None:
    """Add a user; the password (at least 10 characters) is asked for, or read from stdin."""
    password = _password()
    with _directory() as directory:
        user = directory.add(
            name,
            role=role,
            password=password,
            institution=institution,
            language=language,
            email=email,
        )
    typer.echo(f"added {user.username} ({user.role})")


@app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="username")]) -> None:
    """Disable a user: no more sign-ins, and their tokens stop working at once."""
    with _directory() as directory:
        directory.disable(name)
    typer.echo(f"disabled {name}")


@app.command("list")
def list_users() -> None:
    """List the users (never their passwords)."""
    with _directory() as directory:
        users = directory.list()
    print_table(["username", "role", "institution", "language", "status"], [_row(u) for u in users])


def _row(user: User) -> list[str]:
    status = "disabled" if user.disabled else "active"
    return [user.username, user.role, user.institution or "-", user.language, status]

"""The `amparo` command: the embedded stack and everyday operations."""

from __future__ import annotations

import os
import sys

import typer

from amparo.cli import (
    case,
    keys,
    person,
    proceeding,
    referral,
    report,
    stack,
    supervision,
    users,
    visa,
)

app = typer.Typer(
    help="Amparo: durable protection paths for survivors of trafficking and smuggled migrants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(stack.dev)
app.command()(stack.worker)
app.command()(stack.api)
app.command()(case.login)
app.add_typer(case.app, name="case")
app.add_typer(visa.app, name="visa")
app.add_typer(users.app, name="users")
app.add_typer(supervision.app, name="supervision")
app.add_typer(stack.db_app, name="db")
app.add_typer(stack.projections_app, name="projections")
app.add_typer(stack.demo_app, name="demo")
app.add_typer(keys.app, name="keys")
app.add_typer(person.app, name="person")
app.add_typer(report.app, name="report")
app.add_typer(proceeding.app, name="proceeding")
app.add_typer(referral.app, name="referral")


def main() -> None:
    """Run the CLI, then leave without interpreter teardown.

    Temporal's client keeps native threads that can crash a finalizing interpreter
    ("PyGILState_Release ... finalizing", temporalio/sdk-python#300): output is flushed
    and the process exits with the command's own code before that can happen.
    """
    code = 0
    try:
        app()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()

"""The `amparo` command: the embedded stack and everyday operations."""

from __future__ import annotations

import typer

from amparo.cli import case, stack

app = typer.Typer(
    help="Amparo: durable protection paths for survivors of trafficking and smuggled migrants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(stack.dev)
app.command()(stack.worker)
app.add_typer(case.app, name="case")
app.add_typer(stack.db_app, name="db")
app.add_typer(stack.projections_app, name="projections")
app.add_typer(stack.demo_app, name="demo")

if __name__ == "__main__":
    app()

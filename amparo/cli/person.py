"""`amparo person erase CASE_ID --reason`: erase a person's data, through the API (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from amparo.cli.client import ApiClient
from amparo.cli.common import settings

app = typer.Typer(help="A person's data (admin).", no_args_is_help=True)


@app.command("erase")
def erase(
    case_id: uuid.UUID,
    reason: Annotated[str, typer.Option(help="why; kept readable, so name no one in it")],
) -> None:
    """Destroy the person's data key: names, birth date, notes and visa numbers become
    unreadable everywhere; the case's path and the statistics stay. A closed case only."""
    erased = ApiClient(settings()).record(f"/cases/{case_id}/erasure", {"reason": reason})
    typer.echo(f"erased {erased['case_id']} at {erased['erased_at']}")

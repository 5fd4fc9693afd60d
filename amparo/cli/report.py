"""`amparo report statistics|htcds`: the half-year report and the anonymised export,
through the API as the signed-in analyst or supervisor."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from amparo.cli.client import ApiClient
from amparo.cli.common import fail, settings

app = typer.Typer(help="Statistics and anonymised exports (analysts, supervisors).",
                  no_args_is_help=True)  # fmt: skip


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def _day(value: str) -> str:
    try:
        return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
    except ValueError:
        fail(f"invalid_input: {value!r} is not a day (YYYY-MM-DD)")


First = Annotated[str, typer.Option("--from", help="the period's first day, YYYY-MM-DD")]
Last = Annotated[str, typer.Option("--to", help="the period's last day (inclusive)")]
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")
]


def _emit(body: str, output: Path | None) -> None:
    if output is None:
        typer.echo(body, nl=not body.endswith("\n"))
        return
    try:
        output.write_text(body, encoding="utf-8")
    except OSError as error:
        fail(f"cannot_write: {output} ({error.strerror})")
    typer.echo(f"written to {output}")


@app.command("statistics")
def statistics(
    first: First,
    last: Last,
    format: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.JSON,
    public: Annotated[bool, typer.Option("--public", help="suppress counts from 1 to 4")] = False,
    output: Output = None,
) -> None:
    """The national statistical report for a period (JSON, CSV or HTML)."""
    params = {
        "from": _day(first),
        "to": _day(last),
        "format": format.value,
        "variant": "public" if public else "full",
    }
    _emit(ApiClient(settings()).text("GET", "/reports/statistics", params=params), output)


@app.command("htcds")
def htcds(
    first: First,
    last: Last,
    format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.CSV,
    output: Output = None,
) -> None:
    """Persons identified in the period as anonymised HTCDS rows (k-anonymous, k = 11)."""
    params = {"from": _day(first), "to": _day(last), "format": format.value}
    _emit(ApiClient(settings()).text("GET", "/reports/htcds", params=params), output)

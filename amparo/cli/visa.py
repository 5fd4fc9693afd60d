"""`amparo visa add|renew|cancel|expiring`: visas and permits, through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from amparo.cli.client import ApiClient
from amparo.cli.common import settings
from amparo.cli.tables import print_page
from domain.vocabulary import VisaKind, VisaState

app = typer.Typer(
    help="Register, renew and cancel visas; see those expiring soon (through the API).",
    no_args_is_help=True,
)

Day = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")]


def _send(path: str, body: dict[str, Any]) -> dict[str, Any]:
    visa: dict[str, Any] = ApiClient(settings()).record(path, body)
    return visa


def _print_visa(visa: dict[str, Any]) -> None:
    typer.echo(
        f"visa {visa['visa_id']}  {visa['kind']}  {visa['state']}  "
        f"expires {visa['expires_on']}  renewals {visa['renewals']}  case {visa['case_id']}"
    )


@app.command("add")
def add(
    case_id: uuid.UUID,
    kind: Annotated[VisaKind, typer.Option(help="the kind of visa or permit")],
    number: Annotated[str, typer.Option(help="as printed on the document")],
    issued_on: Day,
    expires_on: Day,
) -> None:
    """Register a visa the person holds; prints its id. Reminders go out before expiry."""
    body = {
        "kind": kind.value,
        "number": number,
        "issued_on": issued_on.date().isoformat(),
        "expires_on": expires_on.date().isoformat(),
    }
    typer.echo(_send(f"/cases/{case_id}/visas", body)["visa_id"])


@app.command("renew")
def renew(
    visa_id: uuid.UUID,
    expires_on: Day,
    number: Annotated[str | None, typer.Option(help="the new number, if it changed")] = None,
) -> None:
    """Record a renewal: the new expiry date; reminders start over."""
    body: dict[str, Any] = {"expires_on": expires_on.date().isoformat()}
    if number is not None:
        body["number"] = number
    _print_visa(_send(f"/visas/{visa_id}/renewal", body))


@app.command("cancel")
def cancel(visa_id: uuid.UUID, reason: Annotated[str, typer.Option()]) -> None:
    """Stop following a visa (the person returned, or it was revoked)."""
    _print_visa(_send(f"/visas/{visa_id}/cancellation", {"reason": reason}))


@app.command("expiring")
def expiring(
    within_days: Annotated[int, typer.Option(min=0, max=3650)] = 30,
    case_id: Annotated[uuid.UUID | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 200,
) -> None:
    """Active visas of your cases expiring within the days given, soonest first."""
    params: dict[str, Any] = {"expiring_within_days": within_days, "limit": limit}
    if case_id is not None:
        params["case_id"] = str(case_id)
    page = ApiClient(settings()).call("GET", "/visas", params=params)
    today = datetime.now(UTC).date()
    rows = [
        [
            v["visa_id"], v["case_id"], v["kind"], v["expires_on"],
            str((date.fromisoformat(v["expires_on"]) - today).days),
            _reminder(v), v["assigned_to"] or "",
        ]
        for v in page["items"]
    ]  # fmt: skip
    headers = ["visa", "case", "kind", "expires", "days left", "reminded", "caseworker"]
    print_page(headers, rows, page, limit)


def _reminder(visa: dict[str, Any]) -> str:
    days = visa.get("last_reminder_days")
    if visa["state"] != VisaState.ACTIVE.value:
        return str(visa["state"])
    return f"{days} days before" if days else ""

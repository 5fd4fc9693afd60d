"""`amparo login` and `amparo case open|list|show|advance`: the API, from a terminal."""

from __future__ import annotations

import sys
import uuid
from typing import Annotated, Any

import typer

from amparo.cli.client import ApiClient, save_token
from amparo.cli.common import settings
from amparo.cli.tables import print_table
from domain.vocabulary import CaseStatus, CrimeType, IdentificationOutcome, Step, StepAction

app = typer.Typer(
    help="Open, list, show and advance cases (through the API).", no_args_is_help=True
)


def login(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
) -> None:
    """Sign in and keep a token for the next commands."""
    current = settings()
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True)
    token = ApiClient(current, authenticated=False).call(
        "POST", "/auth/token", data={"username": username, "password": password}
    )
    path = save_token(current, username, token)
    typer.echo(f"signed in as {username} until {token['expires_at']} (token in {path})")


@app.command("open")
def open_case(
    crime_type: Annotated[CrimeType, typer.Option(help="trafficking or smuggling")],
    given_name: Annotated[str, typer.Option()],
    family_name: Annotated[str, typer.Option()],
    sex: Annotated[str, typer.Option(help="female, male, other or unknown")],
    nationality: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2, e.g. VE")],
    birth_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    assigned_to: Annotated[str | None, typer.Option(help="caseworker (default: you)")] = None,
    consent_assistance: Annotated[bool, typer.Option(help="consent to assistance")] = True,
    consent_data_sharing: Annotated[bool, typer.Option(help="consent to share data")] = False,
) -> None:
    """Open a case; prints its id (and any case of the same person you can see)."""
    person: dict[str, Any] = {
        "given_name": given_name,
        "family_name": family_name,
        "sex": sex,
        "nationality": nationality,
    }
    if birth_date:
        person["birth_date"] = birth_date
    body = {
        "crime_type": crime_type.value,
        "person": person,
        "assigned_to": assigned_to,
        "consent_assistance": consent_assistance,
        "consent_data_sharing": consent_data_sharing,
    }
    case = ApiClient(settings()).record("/cases", body)
    typer.echo(case["case_id"])
    for other in case.get("possible_duplicates", []):
        typer.echo(f"note: the same person may have case {other}", err=True)


@app.command("list")
def list_cases(
    status: Annotated[CaseStatus | None, typer.Option()] = None,
    step: Annotated[Step | None, typer.Option(help="cases with this step open")] = None,
    overdue: Annotated[bool | None, typer.Option("--overdue/--not-overdue")] = None,
    assigned_to: Annotated[str | None, typer.Option()] = None,
    crime_type: Annotated[CrimeType | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option("--name", "-q", help="a person's name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List the cases you can see, newest first."""
    params = {
        "status": status, "step": step, "overdue": overdue, "assigned_to": assigned_to,
        "crime_type": crime_type, "q": name, "limit": limit,
    }  # fmt: skip
    page = ApiClient(settings()).call(
        "GET", "/cases", params={k: _param(v) for k, v in params.items() if v is not None}
    )
    rows = [
        [
            c["case_id"],
            c["crime_type"],
            c["status"],
            c["assigned_to"] or "",
            ", ".join(s["step"] for s in c["steps"] if not _final(s["state"])),
            "yes" if c["overdue"] else "",
        ]
        for c in page["items"]
    ]
    print_table(["case", "crime", "status", "assigned", "open steps", "overdue"], rows)


@app.command("show")
def show(case_id: uuid.UUID) -> None:
    """Show a case and where each step stands."""
    case = ApiClient(settings()).call("GET", f"/cases/{case_id}")
    _print_case(case)


@app.command("advance")
def advance(
    case_id: uuid.UUID,
    step: Step,
    action: StepAction,
    institution: Annotated[str | None, typer.Option()] = None,
    outcome: Annotated[IdentificationOutcome | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Act on one step: refer, start, complete, not_needed or decline."""
    body = {
        "action": action.value, "institution": institution,
        "outcome": outcome.value if outcome else None, "reason": reason, "note": note,
    }  # fmt: skip
    case = ApiClient(settings()).record(
        f"/cases/{case_id}/steps/{step.value}", {k: v for k, v in body.items() if v is not None}
    )
    _print_case(case)


def _print_case(case: dict[str, Any]) -> None:
    person = case.get("person") or {}
    typer.echo(
        f"case {case['case_id']}  {case['crime_type']}  {case['status']}  "
        f"version {case['version']}  assigned to {case['assigned_to']}"
    )
    if person:
        typer.echo(
            f"person: {person['given_name']} {person['family_name']} ({person['nationality']})"
        )
    rows = [
        [
            s["step"],
            s["state"],
            s["opened_at"][:10],
            s["due_at"][:10],
            ("overdue" if s["overdue"] else "") + (" (ack)" if s["acknowledged"] else ""),
            s["institution"] or "",
        ]
        for s in case["steps"]
    ]
    print_table(["step", "state", "opened", "due", "", "institution"], rows)


def _param(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def _final(state: str) -> bool:
    return state in {"completed", "not_needed", "declined"}

"""`amparo proceeding open|list|show|link|impute|accuse|sentence|archive`, through the API.

Each command that records something sends its own Idempotency-Key; `--occurred-at` dates
what happened before it was recorded (a time without a zone is this machine's local time).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import typer

from amparo.cli.client import ApiClient
from amparo.cli.common import fail, settings
from amparo.cli.tables import print_page
from domain.person import Sex
from domain.proceedings import ArchiveReason, ProceedingStage, Verdict
from domain.vocabulary import CrimeType

app = typer.Typer(
    help="Record criminal proceedings: open, impute, accuse, sentence, archive (through the API).",
    no_args_is_help=True,
)

OccurredAt = Annotated[
    str | None,
    typer.Option(help="when it happened, ISO 8601 (e.g. 2025-03-01T10:00-04:00); default now"),
]
Cases = Annotated[list[uuid.UUID] | None, typer.Option("--case", help="a case you work on")]
Referrals = Annotated[
    list[uuid.UUID] | None,
    typer.Option("--referral", help="a referral your institution received (its case)"),
]


def _moment(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"invalid_input: --occurred-at: not an ISO 8601 time: {value[:40]}")
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def _send(path: str, body: dict[str, Any], occurred_at: str | None) -> dict[str, Any]:
    moment = _moment(occurred_at)
    if moment is not None:
        body = body | {"occurred_at": moment}
    proceeding: dict[str, Any] = ApiClient(settings()).record(path, body)
    return proceeding


def _victims(cases: list[uuid.UUID] | None, referrals: list[uuid.UUID] | None) -> dict[str, Any]:
    return {
        "case_ids": [str(c) for c in cases or ()],
        "referral_ids": [str(r) for r in referrals or ()],
    }


def _line(p: dict[str, Any]) -> str:
    ending = ""
    if p["verdict"]:
        ending = f"  {p['verdict']}, {p['convicted']} convicted"
    elif p["archive_reason"]:
        ending = f"  ({p['archive_reason']})"
    return (
        f"proceeding {p['proceeding_id']}  {p['crime_type']}  {p['stage']}  "
        f"victims {p['victims']}  imputed {p['imputed']}{ending}"
    )


def _print(p: dict[str, Any]) -> None:
    typer.echo(_line(p))


@app.command("open")
def open_proceeding(
    crime_type: Annotated[CrimeType, typer.Option(help="trafficking or smuggling")],
    case: Cases = None,
    referral: Referrals = None,
    reference: Annotated[str | None, typer.Option(help="the prosecutor's file number")] = None,
    occurred_at: OccurredAt = None,
) -> None:
    """Open an investigation; prints the proceeding's id."""
    body: dict[str, Any] = {"crime_type": crime_type.value, **_victims(case, referral)}
    if reference is not None:
        body["reference"] = reference
    typer.echo(_send("/proceedings", body, occurred_at)["proceeding_id"])


@app.command("list")
def list_proceedings(
    crime_type: Annotated[CrimeType | None, typer.Option()] = None,
    stage: Annotated[ProceedingStage | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Proceedings, the most recently opened first."""
    params: dict[str, Any] = {"limit": limit}
    if crime_type is not None:
        params["crime_type"] = crime_type.value
    if stage is not None:
        params["stage"] = stage.value
    page = ApiClient(settings()).call("GET", "/proceedings", params=params)
    rows = [
        [
            p["proceeding_id"], p["crime_type"], p["stage"], p["opened_at"][:10],
            str(p["victims"]), str(p["imputed"]), p["reference"] or "",
        ]
        for p in page["items"]
    ]  # fmt: skip
    headers = ["proceeding", "crime", "stage", "opened", "victims", "imputed", "reference"]
    print_page(headers, rows, page, limit)


@app.command("show")
def show(proceeding_id: uuid.UUID) -> None:
    """One proceeding: its stage, dates, counts and the linked cases you may see."""
    p = ApiClient(settings()).call("GET", f"/proceedings/{proceeding_id}")
    _print(p)
    dates = ("opened_at", "prosecuted_at", "ended_at")
    typer.echo("  ".join(f"{d.removesuffix('_at')} {p[d][:10]}" for d in dates if p[d]))
    if p["reference"]:
        typer.echo(f"reference {p['reference']}")
    for case_id in p["case_ids"] or ():
        typer.echo(f"case {case_id}")


@app.command("link")
def link(
    proceeding_id: uuid.UUID,
    case: Cases = None,
    referral: Referrals = None,
    occurred_at: OccurredAt = None,
) -> None:
    """Link more victims: cases, or referrals your institution received."""
    if not case and not referral:
        fail("invalid_input: name at least one --case or --referral")
    _print(_send(f"/proceedings/{proceeding_id}/victims", _victims(case, referral), occurred_at))


def _person(value: str) -> dict[str, str]:
    sex, _, nationality = value.partition(":")
    if sex not in set(Sex):
        fail(f"invalid_input: --person: {sex[:20]!r} is not one of {', '.join(Sex)}")
    return {"sex": sex, "nationality": nationality} if nationality else {"sex": sex}


@app.command("impute")
def impute(
    proceeding_id: uuid.UUID,
    person: Annotated[
        list[str],
        typer.Option(help="SEX[:NATIONALITY], e.g. male:DO; once per person imputed"),
    ],
    occurred_at: OccurredAt = None,
) -> None:
    """Persons imputed: counted by sex and nationality, never named."""
    body = {"persons": [_person(p) for p in person]}
    _print(_send(f"/proceedings/{proceeding_id}/imputations", body, occurred_at))


@app.command("accuse")
def accuse(proceeding_id: uuid.UUID, occurred_at: OccurredAt = None) -> None:
    """The accusation is filed: the proceeding is prosecuted."""
    _print(_send(f"/proceedings/{proceeding_id}/accusation", {}, occurred_at))


@app.command("sentence")
def sentence(
    proceeding_id: uuid.UUID,
    verdict: Annotated[Verdict, typer.Option()],
    convicted: Annotated[int, typer.Option(min=0, max=200, help="0 for an acquittal")],
    occurred_at: OccurredAt = None,
) -> None:
    """The sentence; it ends the proceeding."""
    body = {"verdict": verdict.value, "convicted": convicted}
    _print(_send(f"/proceedings/{proceeding_id}/sentence", body, occurred_at))


@app.command("archive")
def archive(
    proceeding_id: uuid.UUID,
    reason: Annotated[ArchiveReason, typer.Option()],
    occurred_at: OccurredAt = None,
) -> None:
    """Archive it; it ends the proceeding."""
    body = {"reason": reason.value}
    _print(_send(f"/proceedings/{proceeding_id}/archival", body, occurred_at))

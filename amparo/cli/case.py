"""`amparo case open|list|show|advance`: everyday work on cases from a terminal."""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from amparo.cases import CaseCommands
from amparo.cli.common import fail, run, settings, temporal_client
from amparo.cli.tables import print_table
from domain import commands as cmd
from domain.sla import SlaPolicy
from domain.vocabulary import CaseStatus, CrimeType, IdentificationOutcome, Step, StepAction
from store.db import make_engine
from store.read_models import CaseReads

app = typer.Typer(help="Open, list, show and advance cases.", no_args_is_help=True)

Actor = Annotated[str, typer.Option("--actor", help="Who is acting (recorded on every event).")]


def _actor_default() -> str:
    return getpass.getuser()


def _reads() -> CaseReads:
    return CaseReads(make_engine(settings().effective_database_url))


def _now() -> datetime:
    return datetime.now(UTC)


@app.command("open")
def open_case(
    crime_type: Annotated[CrimeType, typer.Option(help="trafficking or smuggling")],
    given_name: Annotated[str, typer.Option()],
    family_name: Annotated[str, typer.Option()],
    sex: Annotated[str, typer.Option(help="female, male, other or unknown")],
    nationality: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2, e.g. VE")],
    birth_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    assigned_to: Annotated[str | None, typer.Option(help="caseworker (default: the actor)")] = None,
    consent_assistance: Annotated[bool, typer.Option(help="consent to assistance given")] = True,
    consent_data_sharing: Annotated[bool, typer.Option(help="consent to share data")] = False,
    actor: Actor = "",
) -> None:
    """Open a case; prints its id."""
    current = settings()
    who = actor or _actor_default()
    try:
        command = cmd.OpenCase(
            command_id=uuid.uuid4(),
            actor=who,
            at=_now(),
            case_id=uuid.uuid4(),
            crime_type=crime_type,
            person={
                "given_name": given_name,
                "family_name": family_name,
                "sex": sex,
                "nationality": nationality,
                "birth_date": date.fromisoformat(birth_date) if birth_date else None,
            },
            assigned_to=assigned_to or who,
            consent=cmd.Consent(assistance=consent_assistance, data_sharing=consent_data_sharing),
            sla=SlaPolicy.with_overrides(current.sla_days, current.stale_days),
        )
    except (ValidationError, ValueError) as error:
        fail(_invalid(error))

    async def go() -> None:
        commands = CaseCommands(
            await temporal_client(current),
            task_queue=current.task_queue,
            max_updates_per_run=current.max_updates_per_run,
        )
        await commands.open(command)

    run(go())
    typer.echo(str(command.case_id))


@app.command("list")
def list_cases(
    status: Annotated[CaseStatus | None, typer.Option()] = None,
    step: Annotated[Step | None, typer.Option(help="cases with this step open")] = None,
    overdue: Annotated[bool | None, typer.Option("--overdue/--not-overdue")] = None,
    assigned_to: Annotated[str | None, typer.Option()] = None,
    crime_type: Annotated[CrimeType | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List cases, newest first."""
    page = _reads().list(
        status=status,
        step=step,
        overdue=overdue,
        assigned_to=assigned_to,
        crime_type=crime_type,
        limit=limit,
    )
    rows = [
        [
            str(c.case_id),
            c.crime_type or "",
            c.status,
            c.assigned_to or "",
            ", ".join(s.step for s in c.steps if not _final(s.state)),
            "yes" if c.overdue else "",
        ]
        for c in page.items
    ]
    print_table(["case", "crime", "status", "assigned", "open steps", "overdue"], rows)


@app.command("show")
def show(case_id: uuid.UUID) -> None:
    """Show a case and where each step stands."""
    case = _reads().get(case_id)
    if case is None:
        fail(f"case_not_found: no case {case_id}")
    typer.echo(
        f"case {case.case_id}  {case.crime_type}  {case.status}  "
        f"assigned to {case.assigned_to} ({case.institution or 'no institution'})"
    )
    rows = [
        [
            s.step,
            s.state,
            _day(s.opened_at),
            _day(s.due_at),
            ("overdue" if s.overdue else "") + (" (ack)" if s.acknowledged else ""),
            s.institution or "",
        ]
        for s in case.steps
    ]
    print_table(["step", "state", "opened", "due", "", "institution"], rows)


@app.command("advance")
def advance(
    case_id: uuid.UUID,
    step: Step,
    action: StepAction,
    institution: Annotated[str | None, typer.Option()] = None,
    outcome: Annotated[IdentificationOutcome | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    note: Annotated[str | None, typer.Option()] = None,
    actor: Actor = "",
) -> None:
    """Act on one step: refer, start, complete, not_needed or decline."""
    current = settings()
    command = cmd.AdvanceStep(
        command_id=uuid.uuid4(),
        actor=actor or _actor_default(),
        at=_now(),
        step=step,
        action=action,
        institution=institution,
        outcome=outcome,
        reason=reason,
        note=note,
    )

    async def go() -> None:
        commands = CaseCommands(
            await temporal_client(current),
            task_queue=current.task_queue,
            max_updates_per_run=current.max_updates_per_run,
        )
        result = await commands.send(case_id, command)
        typer.echo(f"case {case_id} at version {result.version}: {', '.join(result.events)}")

    run(go())


def _final(state: str) -> bool:
    return state in {"completed", "not_needed", "declined"}


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else ""


def _invalid(error: ValidationError | ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"invalid_input: {field}: {first['msg']}"
    return f"invalid_input: {error}"

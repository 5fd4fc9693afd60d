"""`amparo supervision stuck|workload|closures`: the supervisor's screens as tables."""

from __future__ import annotations

from typing import Annotated

import typer

from amparo.cli.client import ApiClient
from amparo.cli.common import settings
from amparo.cli.tables import print_table
from domain.supervision import StuckReason
from domain.vocabulary import Step

app = typer.Typer(help="Stuck cases, workload and closures (supervisors).", no_args_is_help=True)


@app.command("stuck")
def stuck(
    reason: Annotated[StuckReason | None, typer.Option()] = None,
    step: Annotated[Step | None, typer.Option()] = None,
    caseworker: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Stuck steps, most overdue first."""
    params = {"reason": reason, "step": step, "caseworker": caseworker, "limit": limit}
    page = ApiClient(settings()).call(
        "GET",
        "/supervision/stuck",
        params={k: str(getattr(v, "value", v)) for k, v in params.items() if v is not None},
    )
    rows = [
        [i["case_id"], i["step"] or "-", i["reason"], i["since"][:16].replace("T", " "),
         i["assigned_to"] or "", "yes" if i["acknowledged"] else ""]
        for i in page["items"]
    ]  # fmt: skip
    print_table(["case", "step", "reason", "since", "caseworker", "acknowledged"], rows)


@app.command("workload")
def workload() -> None:
    """Open cases, open steps and overdue steps per caseworker."""
    rows = [
        [w["caseworker"], str(w["open_cases"]), str(w["open_steps"]), str(w["overdue_steps"]),
         (w["oldest_overdue"] or "")[:10]]
        for w in ApiClient(settings()).call("GET", "/supervision/workload")
    ]  # fmt: skip
    print_table(["caseworker", "open cases", "open steps", "overdue", "oldest overdue"], rows)


@app.command("closures")
def closures() -> None:
    """Closure requests awaiting your decision, oldest first."""
    rows = [
        [c["case_id"], c["reason"], c["requested_at"][:10], c["requested_by"]]
        for c in ApiClient(settings()).call("GET", "/supervision/closures")
    ]
    print_table(["case", "reason", "requested", "by"], rows)

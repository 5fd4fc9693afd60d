"""`amparo referral list|show|answer|revoke|redirect`: referrals, through the API.

An institution's user lists the referrals it received and answers them; the caseworker or
supervisor of a case revokes or redirects them. Each answer sends its own Idempotency-Key.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer

from amparo.cli.client import ApiClient
from amparo.cli.common import settings
from amparo.cli.tables import print_page
from domain.vocabulary import ReferralDecision, ReferralState

app = typer.Typer(
    help="See referrals and answer them (institutions), revoke or redirect them (caseworkers).",
    no_args_is_help=True,
)


def _send(path: str, body: dict[str, Any]) -> dict[str, Any]:
    referral: dict[str, Any] = ApiClient(settings()).record(path, body)
    return referral


def _person(referral: dict[str, Any]) -> str:
    """The shared name, while the referral is live and the institution may see it."""
    person = referral.get("person") or {}
    return " ".join(str(person[k]) for k in ("given_name", "family_name") if person.get(k))


def _print_referral(referral: dict[str, Any]) -> None:
    typer.echo(
        f"referral {referral['referral_id']}  {referral['step']}  {referral['institution']}  "
        f"{referral['state']}" + (f"  case {referral['case_id']}" if referral["case_id"] else "")
    )


@app.command("list")
def list_referrals(
    state: Annotated[ReferralState | None, typer.Option(help="only this state")] = None,
    case_id: Annotated[uuid.UUID | None, typer.Option(help="only this case's")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Your institution's referrals (or your cases'), oldest first."""
    params: dict[str, Any] = {"limit": limit}
    if state is not None:
        params["state"] = state.value
    if case_id is not None:
        params["case_id"] = str(case_id)
    page = ApiClient(settings()).call("GET", "/referrals", params=params)
    rows = [
        [
            r["referral_id"], r["step"], r["institution"], r["state"],
            r["referred_at"][:10], "yes" if r["overdue"] else "", _person(r),
        ]
        for r in page["items"]
    ]  # fmt: skip
    headers = ["referral", "step", "institution", "state", "referred", "overdue", "person"]
    print_page(headers, rows, page, limit)


@app.command("show")
def show(referral_id: uuid.UUID) -> None:
    """One referral, with what the institution may know of the person."""
    referral = ApiClient(settings()).call("GET", f"/referrals/{referral_id}")
    _print_referral(referral)
    for key in ("referred_at", "delivered_at", "answered_at", "due_at", "decision", "reference",
                "reason"):  # fmt: skip
        if referral.get(key):
            typer.echo(f"  {key}: {referral[key]}")
    for key, value in (referral.get("person") or {}).items():
        typer.echo(f"  person.{key}: {value}")


@app.command("answer")
def answer(
    referral_id: uuid.UUID,
    decision: ReferralDecision,
    reference: Annotated[str | None, typer.Option(help="your institution's file number")] = None,
    note: Annotated[str | None, typer.Option(help="why, when declined")] = None,
) -> None:
    """Answer a referral your institution received: accepted, declined or completed."""
    body: dict[str, Any] = {"decision": decision.value}
    if reference is not None:
        body["reference"] = reference
    if note is not None:
        body["note"] = note
    _print_referral(_send(f"/referrals/{referral_id}/answer", body))


@app.command("revoke")
def revoke(referral_id: uuid.UUID, reason: Annotated[str, typer.Option()]) -> None:
    """Withdraw a referral that is not final yet."""
    _print_referral(_send(f"/referrals/{referral_id}/revocation", {"reason": reason}))


@app.command("redirect")
def redirect(
    referral_id: uuid.UUID,
    institution: Annotated[str, typer.Option(help="an institution of the registry")],
    reason: Annotated[str, typer.Option()],
) -> None:
    """Send a referral that is not final to another institution; prints the new referral."""
    body = {"institution": institution, "reason": reason}
    _print_referral(_send(f"/referrals/{referral_id}/redirection", body))

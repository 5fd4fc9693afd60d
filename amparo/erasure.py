"""Erasing a person's data: the command's one path, whether the case's workflow runs or not.

A closed case whose workflow still runs (it follows a visa) takes the command like any
other. Most closed cases' workflows have ended: then the erasure is decided on the case as
stored and appended directly — no other writer is left for an ended case, and the store's
version check refuses a second erasure racing this one. Either way the event and the
destruction of the person's data key commit in one transaction (`EventStore`).
"""

from __future__ import annotations

from uuid import UUID

from amparo.cases import CaseCommands, CommandRefused
from domain import CaseState, DomainError, decide, evolve_all
from domain import commands as cmd
from store.errors import VersionConflict
from store.event_store import EventStore


async def erase_person(
    commands: CaseCommands, store: EventStore, case_id: UUID, command: cmd.ErasePerson
) -> None:
    """Erase, or `CommandRefused` with the domain's code (`case_not_closed`, …)."""
    try:
        await commands.send(case_id, command)
        return
    except CommandRefused as refused:
        if refused.code != "case_closed":  # the workflow answered: that is the answer
            raise
    state = evolve_all(CaseState(), store.read_stream(case_id))
    if state.case_id is None:
        raise CommandRefused("case_not_found", "no such case")
    try:
        store.append(decide(state, command))
    except DomainError as error:
        raise CommandRefused(error.code, error.detail) from None
    except VersionConflict:
        raise CommandRefused("person_erased", "the case changed meanwhile; look again") from None

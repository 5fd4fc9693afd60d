"""Recording commands on criminal proceedings: decide on the stored state, append, retry.

A proceeding has no workflow to serialise its commands, so two users may decide on the
same version at once: the store lets one append win (`VersionConflict` for the other),
and the loser reads the stream again and decides anew, so it gets the rules' answer on
the new state (two identical accusations: one is filed, the other `already_prosecuted`).
A command is applied once: its event's id derives from the command id, and a command
found in the stream already answers with the current state instead of deciding again.
"""

from __future__ import annotations

from uuid import UUID

from amparo.cases import CommandRefused
from domain.errors import DomainError
from domain.ids import decision_key, decision_key_of
from domain.proceedings import (
    OpenInvestigation,
    ProceedingCommand,
    ProceedingState,
    decide_proceeding,
    evolve_proceeding_all,
)
from store.proceedings import ProceedingStore, VersionConflict

RETRIES = 3  # decisions again after a conflicting append, before giving up


class ProceedingCommands:
    """Commands on proceedings, decided and stored through one `ProceedingStore`."""

    def __init__(self, store: ProceedingStore) -> None:
        self._store = store

    @property
    def store(self) -> ProceedingStore:
        return self._store

    def record(self, proceeding_id: UUID, command: ProceedingCommand) -> ProceedingState:
        """Apply `command` to the proceeding; its state after. A refusal raises
        `CommandRefused` with the domain's code (`proceeding_not_found` for a proceeding
        never opened). Sent again (same command id), it is not applied twice."""
        if isinstance(command, OpenInvestigation) and command.proceeding_id != proceeding_id:
            raise ValueError("an OpenInvestigation names its own proceeding")
        mine = decision_key(command.command_id, 0)
        for _attempt in range(1 + RETRIES):
            stream = self._store.read_stream(proceeding_id)
            state = evolve_proceeding_all(stream)
            if any(decision_key_of(event.event_id) == mine for event in stream):
                return state  # applied before: the answer is the current state
            try:
                new = decide_proceeding(state, command)
            except DomainError as error:
                raise CommandRefused(error.code, error.detail) from None
            try:
                self._store.append(new)
            except VersionConflict:
                continue  # another command took the version: decide on the new state
            return evolve_proceeding_all(new, state)
        raise CommandRefused(
            "proceeding_busy", "the proceeding kept changing meanwhile; send the command again"
        )

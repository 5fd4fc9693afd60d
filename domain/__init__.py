"""The pure decider of the protection path: commands, events, state, rules.

Imports only the standard library and pydantic (a test enforces it): no I/O, no clock,
no Temporal. `decide(state, command) -> list[Event]`, `evolve(state, event) -> state`.
"""

from domain.commands import Command
from domain.decide import decide
from domain.errors import DomainError
from domain.events import Event
from domain.state import CaseState, StepStatus, evolve, evolve_all

__all__ = [
    "CaseState",
    "Command",
    "DomainError",
    "Event",
    "StepStatus",
    "decide",
    "evolve",
    "evolve_all",
]

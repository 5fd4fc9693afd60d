"""Realistic random case histories, decided by the real domain from a seeded `Random`.

Each history is what a case's workflow would have written: `OpenCase`, then people's
commands (steps advanced, notes, reassignments, consent, closure) interleaved with the
SLA timer's `RecordOverdue`/`EscalateOverdue` whenever the clock passes a deadline.
Commands the rules refuse are simply not recorded, as in the workflow.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypedDict
from uuid import UUID

from domain import CaseState, DomainError, Event, decide, evolve_all
from domain import commands as cmd
from domain.deadlines import due_now
from domain.person import ExploitationType, Person, Sex, VictimContext
from domain.vocabulary import (
    SYSTEM_ACTOR,
    ClosureReason,
    ConsentScope,
    CrimeType,
    IdentificationOutcome,
    Step,
    StepAction,
)

CASEWORKERS = ("ana.rojas", "luis.paz", "maria.quispe", "jorge.diaz")
INSTITUTIONS = ("MIMP", "Defensoria", "MINSA", "Migraciones", "CEM Lima")
GIVEN = ("Rosa", "Ana", "Wilmer", "Yesenia", "Carlos", "Mei")
FAMILY = ("Huaman", "Torres", "Mamani", "Garcia", "Chen", "Flores")
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def uuid_from(rng: random.Random) -> UUID:
    """A random UUID that the seed reproduces."""
    return UUID(int=rng.getrandbits(128), version=4)


@dataclass
class CaseHistory:
    """One case: its events as decided, one batch per command (one workflow step)."""

    case_id: UUID
    batches: list[list[Event]] = field(default_factory=list)
    state: CaseState = field(default_factory=CaseState)

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]

    def record(self, command: cmd.Command) -> bool:
        """Decide `command`; keep its events if the rules accept it."""
        try:
            decided = decide(self.state, command)
        except DomainError:
            return False
        self.batches.append(decided)
        self.state = evolve_all(self.state, decided)
        return True


def random_case(rng: random.Random, *, start: datetime = EPOCH, commands: int = 20) -> CaseHistory:
    """A case opened at about `start`, then up to `commands` more commands over weeks."""
    now = start + timedelta(hours=rng.uniform(0, 24 * 90))
    history = CaseHistory(case_id=uuid_from(rng))
    history.record(_open_case(rng, history.case_id, now))
    for _ in range(rng.randint(0, commands)):
        if not history.state.is_open:
            break
        now += timedelta(hours=rng.expovariate(1 / 30))
        _timers(rng, history, now)
        _one_person_command(rng, history, now)
    return history


def random_cases(seed: int, count: int, *, commands: int = 20) -> list[CaseHistory]:
    """`count` histories that `seed` reproduces."""
    rng = random.Random(seed)
    return [random_case(rng, commands=commands) for _ in range(count)]


def interleaved(histories: list[CaseHistory], rng: random.Random) -> Iterator[list[Event]]:
    """Every history's batches, cases interleaved at random, each case in its own order."""
    pending = [iter(h.batches) for h in histories]
    while pending:
        source = rng.choice(pending)
        batch = next(source, None)
        if batch is None:
            pending.remove(source)
        else:
            yield batch


class _Base(TypedDict):
    command_id: UUID
    actor: str
    at: datetime


def _base(rng: random.Random, now: datetime, actor: str | None = None) -> _Base:
    return {"command_id": uuid_from(rng), "actor": actor or rng.choice(CASEWORKERS), "at": now}


def _open_case(rng: random.Random, case_id: UUID, now: datetime) -> cmd.OpenCase:
    person = Person(
        given_name=rng.choice(GIVEN),
        family_name=rng.choice(FAMILY),
        sex=rng.choice(list(Sex)),
        nationality=rng.choice(("PE", "VE", "CO", "BO", "CN")),
    )
    victim = VictimContext(exploitation_types=(rng.choice(list(ExploitationType)),))
    consent = cmd.Consent(assistance=rng.random() < 0.8, data_sharing=rng.random() < 0.6)
    return cmd.OpenCase(
        **_base(rng, now),
        case_id=case_id,
        crime_type=rng.choice(list(CrimeType)),
        person=person,
        victim=victim,
        assigned_to=rng.choice(CASEWORKERS),
        institution=rng.choice((None, *INSTITUTIONS)),
        consent=consent,
    )


def _timers(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    """What the case's SLA timer would have fired by `now`."""
    for deadline in due_now(history.state, now):
        kind = cmd.RecordOverdue if deadline.kind == "overdue" else cmd.EscalateOverdue
        history.record(kind(**_base(rng, now, SYSTEM_ACTOR), step=deadline.step))


def _one_person_command(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    """Try people's commands, most likely first, until the rules accept one."""
    for make in rng.choices(_COMMANDS, weights=_WEIGHTS, k=8):
        if history.record(make(rng, history.state, now)):
            return


def _advance(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    open_steps = state.open_steps() or list(state.steps.values())
    step = rng.choice(open_steps).step
    action = rng.choices(list(StepAction), weights=(3, 4, 6, 1, 1))[0]
    outcome = rng.choices(list(IdentificationOutcome), weights=(8, 3, 1))[0]
    return cmd.AdvanceStep(
        **_base(rng, _maybe_backdated(rng, state, now)),
        step=step,
        action=action,
        institution=rng.choice(INSTITUTIONS),
        outcome=outcome if step is Step.IDENTIFICATION else None,
        reason=rng.choice(("not required for this person", "person declined")),
        note=rng.choice((None, None, "called the shelter")),
    )


def _maybe_backdated(rng: random.Random, state: CaseState, now: datetime) -> datetime:
    """Usually `now`; sometimes work recorded a little after the fact."""
    return now if rng.random() < 0.8 else now - timedelta(hours=rng.uniform(0, 6))


def _note(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    return cmd.AddNote(**_base(rng, now), text="spoke with the person")


def _assign(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    return cmd.AssignCase(**_base(rng, now), caseworker=rng.choice(CASEWORKERS))


def _consent(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    scope = rng.choice(list(ConsentScope))
    kind = cmd.WithdrawConsent if rng.random() < 0.2 else cmd.GiveConsent
    return kind(**_base(rng, now), scope=scope)


def _acknowledge(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    step = rng.choice(list(state.steps.values())).step
    return cmd.AcknowledgeOverdue(**_base(rng, now), step=step, note="waiting on MINSA")


def _request_closure(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    reason = rng.choices(list(ClosureReason), weights=(10, 1, 1, 1, 2))[0]
    return cmd.RequestClosure(**_base(rng, now), reason=reason)


def _decide_closure(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    return cmd.DecideClosure(**_base(rng, now), approved=rng.random() < 0.8)


_Maker = Callable[[random.Random, CaseState, datetime], cmd.Command]
_COMMANDS: list[_Maker] = [
    _advance,
    _note,
    _assign,
    _consent,
    _acknowledge,
    _request_closure,
    _decide_closure,
]
_WEIGHTS = [12, 3, 1, 2, 2, 2, 4]

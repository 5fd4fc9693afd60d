"""When a case's SLA timers fire: the overdue moment and the second escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain.state import CaseState, StepStatus
from domain.vocabulary import Step


@dataclass(frozen=True)
class Deadline:
    """A step's next SLA moment: `overdue` at its due date, `escalate` at twice its SLA."""

    step: Step
    kind: Literal["overdue", "escalate"]
    at: datetime


def _deadline(status: StepStatus) -> Deadline | None:
    if not status.overdue:
        return Deadline(status.step, "overdue", status.due_at)
    if not status.escalated:
        return Deadline(status.step, "escalate", status.escalates_at)
    return None


def deadlines(state: CaseState) -> list[Deadline]:
    """Every pending SLA moment of an open case, earliest first."""
    if not state.is_open:
        return []
    found = [d for s in state.open_steps() if (d := _deadline(s)) is not None]
    return sorted(found, key=lambda d: (d.at, d.step))


def fire_time(state: CaseState, deadline: Deadline) -> datetime:
    """When the timer fires: the deadline, held back while past work is still being entered."""
    if state.last_recorded_at is None:
        return deadline.at
    grace = state.last_recorded_at + timedelta(seconds=state.sla.backdating_grace_seconds)
    return max(deadline.at, grace)


def next_fire_time(state: CaseState) -> datetime | None:
    """The earliest moment a timer of this case must fire, or None."""
    times = [fire_time(state, d) for d in deadlines(state)]
    return min(times) if times else None


def due_now(state: CaseState, now: datetime) -> list[Deadline]:
    """Deadlines whose timers should have fired by `now`."""
    return [d for d in deadlines(state) if fire_time(state, d) <= now]

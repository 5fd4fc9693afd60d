"""What "stuck" means, and why: the supervisor board's rules, decided here and nowhere else.

A step is stuck while its cause lasts: `overdue` from its due date until it is final;
`stale` when a `referred` or `in_progress` step has had no event for the stale period.
`delivery_failing` while a delivery for the case has failed several attempts in a row, until
one succeeds. A closed case has no stuck step. `visa_expired` is about the case, not a
step: a visa lapsed unrenewed, from its expiry until it is renewed or cancelled — on a
closed case too, since a closed case still follows the visas of a person who stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.state import CaseState, StepStatus
from domain.vocabulary import Step, StepState, VisaState

WAITING_STATES = frozenset({StepState.REFERRED, StepState.IN_PROGRESS})


class StuckReason(StrEnum):
    OVERDUE = "overdue"
    STALE = "stale"
    DELIVERY_FAILING = "delivery_failing"
    VISA_EXPIRED = "visa_expired"


# A delivery for a case (a notification, a referral) counts as failing once this many
# attempts in a row have failed: one failure is noise, three is something to look at.
DELIVERY_FAILING_AFTER_ATTEMPTS = 3


def delivery_failing(failed_attempts: int) -> bool:
    """Whether a delivery that has failed `failed_attempts` times in a row is stuck."""
    return failed_attempts >= DELIVERY_FAILING_AFTER_ATTEMPTS


@dataclass(frozen=True)
class StuckStep:
    """One reason one step of one case is stuck, and since when."""

    step: Step
    reason: StuckReason
    since: datetime


def stale_since(status: StepStatus, stale_days: int) -> datetime | None:
    """When a waiting step became stale (its last event plus the stale period), if it can."""
    if status.state not in WAITING_STATES:
        return None
    return status.updated_at + timedelta(days=stale_days)


def stuck_steps(state: CaseState, now: datetime) -> list[StuckStep]:
    """Every (step, reason) that makes this case stuck at `now`, most overdue first."""
    if not state.is_open:
        return []
    found: list[StuckStep] = []
    for status in state.open_steps():
        if status.due_at <= now:
            found.append(StuckStep(status.step, StuckReason.OVERDUE, status.due_at))
        stale = stale_since(status, state.sla.stale_days)
        if stale is not None and stale <= now:
            found.append(StuckStep(status.step, StuckReason.STALE, stale))
    return sorted(found, key=lambda s: (s.since, s.step, s.reason))


def visa_expired_since(state: CaseState, now: datetime) -> datetime | None:
    """Since when the case is stuck with `visa_expired` (its earliest lapsed visa), if it is."""
    lapsed = [
        v.expired_at
        for v in state.visas.values()
        if v.state is VisaState.EXPIRED and v.expired_at is not None and v.expired_at <= now
    ]
    return min(lapsed, default=None)

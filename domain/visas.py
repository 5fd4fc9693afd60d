"""Visas and permits of a case: their state, and when their reminders and expiry fall.

A visa is valid through its expiry date; it lapses at the start of the next day (UTC).
Reminders fall `reminder_days` before the expiry date at `hour_utc`, to the caseworker,
and to the supervisor too from `supervisor_within_days` on; the expiry itself notifies
both. A visa registered late gets the reminders still ahead plus, at once, one catch-up
reminder counting the days left (past dates are not reminded of late). Each reminder is
recorded once per cycle (expiry date): a renewal starts a new cycle.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.personal import PersonalText
from domain.vocabulary import VisaKind, VisaState

EXPIRY = 0  # the `days` of the alert at expiry itself


class VisaPolicy(BaseModel):
    """When reminders go out; recorded with the visa, so its timers replay exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reminder_days: tuple[Annotated[int, Field(ge=1, le=3650)], ...] = (90, 60, 30, 7)
    supervisor_within_days: int = Field(default=7, ge=0)
    hour_utc: int = Field(default=14, ge=0, le=23)  # morning in the Americas

    @field_validator("reminder_days")
    @classmethod
    def _distinct_descending(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(value), reverse=True))

    def to_supervisor(self, days: int) -> bool:
        return days <= self.supervisor_within_days


class VisaStatus(BaseModel):
    """Where one visa stands."""

    model_config = ConfigDict(frozen=True)

    visa_id: UUID
    kind: VisaKind
    number: PersonalText
    issued_on: date
    expires_on: date
    policy: VisaPolicy = VisaPolicy()
    state: VisaState = VisaState.ACTIVE
    renewals: int = 0
    reminders_sent: tuple[int, ...] = ()  # of the current cycle, `EXPIRY` included
    registered_at: datetime
    updated_at: datetime
    expired_at: datetime | None = None
    cancelled_reason: PersonalText | None = None

    @property
    def live(self) -> bool:
        """Still followed: active, or expired and waiting for a renewal."""
        return self.state is not VisaState.CANCELLED


class VisaAlert(BaseModel):
    """A reminder (`days` before expiry) or the expiry itself (`days` = 0), due `at`."""

    model_config = ConfigDict(frozen=True)

    days: int
    at: datetime


def lapses_at(expires_on: date) -> datetime:
    """The moment a visa is no longer valid: the start of the day after its expiry date."""
    return datetime.combine(expires_on + timedelta(days=1), time(0), tzinfo=UTC)


def reminder_at(expires_on: date, days: int, policy: VisaPolicy) -> datetime:
    return datetime.combine(expires_on - timedelta(days=days), time(policy.hour_utc), tzinfo=UTC)


def alert_at(expires_on: date, days: int, policy: VisaPolicy) -> datetime:
    """When the alert `days` (0: the expiry) of a cycle falls."""
    return lapses_at(expires_on) if days == EXPIRY else reminder_at(expires_on, days, policy)


def schedule(
    expires_on: date, policy: VisaPolicy, now: datetime, sent: tuple[int, ...] = ()
) -> list[VisaAlert]:
    """The alerts of a cycle still to give from `now`, in time order.

    Reminders whose date has passed are not sent late; instead, if none of this cycle
    went out yet, one catch-up reminder goes now, counting the days actually left. The
    expiry alert always comes last.
    """
    if lapses_at(expires_on) <= now:  # lapsed already: only the expiry is left to tell
        return [] if EXPIRY in sent else [VisaAlert(days=EXPIRY, at=now)]
    alerts = [
        VisaAlert(days=d, at=reminder_at(expires_on, d, policy)) for d in policy.reminder_days
    ]
    ahead = [a for a in alerts if a.at > now and a.days not in sent]
    missed = any(a.at <= now for a in alerts)
    if missed and not sent:
        ahead.insert(0, VisaAlert(days=days_left(expires_on, now), at=now))
    return [*ahead, VisaAlert(days=EXPIRY, at=lapses_at(expires_on))]


def days_left(expires_on: date, now: datetime) -> int:
    """Whole days from `now` to the expiry date, at least 1 (0 means the expiry itself)."""
    return max(1, (expires_on - now.astimezone(UTC).date()).days)

"""Cases that hold visas: realistic visa histories decided by the real domain.

On top of `tests.support.cases`: visas registered on open cases, then weeks and months of
the visa timers' reminders and expiries interleaved with renewals, cancellations and
closures (a closed case keeps following its visas; `deceased` cancels them).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from domain import commands as cmd
from domain.visas import EXPIRY, lapses_at, schedule
from domain.vocabulary import SYSTEM_ACTOR, ClosureReason, VisaKind, VisaState
from tests.support.cases import CaseHistory, _base, random_case


def register(rng: random.Random, history: CaseHistory, now: datetime, days: int) -> bool:
    """Register a visa expiring `days` after `now`'s date."""
    issued = now.date() - timedelta(days=rng.randint(0, 300))
    return history.record(
        cmd.RegisterVisa(
            **_base(rng, now),
            visa_kind=rng.choice(list(VisaKind)),
            number=f"V-{rng.randint(10_000, 99_999)}",
            issued_on=issued,
            expires_on=now.date() + timedelta(days=days),
        )
    )


def fire_timers(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    """What the visa timers would have recorded by `now`."""
    for visa in list(history.state.visas.values()):
        if visa.state is not VisaState.ACTIVE:
            continue
        for alert in schedule(visa.expires_on, visa.policy, now, visa.reminders_sent):
            if alert.at > now:
                break
            if alert.days == EXPIRY:
                history.record(
                    cmd.RecordVisaExpiry(
                        **_base(rng, now, SYSTEM_ACTOR),
                        visa_id=visa.visa_id,
                        expires_on=visa.expires_on,
                    )
                )
            else:
                history.record(
                    cmd.RecordVisaReminder(
                        **_base(rng, now, SYSTEM_ACTOR),
                        visa_id=visa.visa_id,
                        expires_on=visa.expires_on,
                        days=alert.days,
                    )
                )


def _renew(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    live = [v for v in history.state.visas.values() if v.live]
    if live:
        visa = rng.choice(live)
        later = max(visa.expires_on, now.date()) + timedelta(days=rng.randint(60, 400))
        number = rng.choice((None, f"V-{rng.randint(10_000, 99_999)}"))
        history.record(
            cmd.RenewVisa(**_base(rng, now), visa_id=visa.visa_id, expires_on=later, number=number)
        )


def _cancel(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    live = [v for v in history.state.visas.values() if v.live]
    if live:
        visa = rng.choice(live)
        history.record(
            cmd.CancelVisa(**_base(rng, now), visa_id=visa.visa_id, reason="returned home")
        )


def _close(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    reason = rng.choice((ClosureReason.LOST_CONTACT, ClosureReason.DECEASED))
    if history.record(cmd.RequestClosure(**_base(rng, now), reason=reason)):
        history.record(cmd.DecideClosure(**_base(rng, now), approved=True))


def visa_case(rng: random.Random, *, ticks: int = 12) -> CaseHistory:
    """A case with one to three visas, followed for months after they were registered."""
    history = random_case(rng, commands=rng.randint(0, 6))
    while not history.state.is_open:  # only an open case registers visas
        history = random_case(rng, commands=rng.randint(0, 6))
    now = history.state.last_event_at or history.state.opened_at
    assert now is not None
    for _ in range(rng.randint(1, 3)):
        now += timedelta(hours=rng.uniform(1, 48))
        register(rng, history, now, rng.randint(5, 200))
    for _ in range(ticks):
        now += timedelta(days=rng.expovariate(1 / 20))
        fire_timers(rng, history, now)
        action = rng.choices((_renew, _cancel, _close, None), weights=(3, 1, 1, 6))[0]
        if action is not None:
            action(rng, history, now)
    return history


def visa_cases(seed: int, count: int) -> list[CaseHistory]:
    rng = random.Random(seed)
    return [visa_case(rng) for _ in range(count)]


def last_reminder(sent: tuple[int, ...]) -> int | None:
    """The latest reminder of a cycle (fewest days), the expiry alert not counted."""
    reminders = [days for days in sent if days != EXPIRY]
    return min(reminders) if reminders else None


def lapsed_by(expires_on: date, now: datetime) -> bool:
    return lapses_at(expires_on) <= now

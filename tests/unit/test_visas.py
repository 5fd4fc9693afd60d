"""Visas and permits: their rules, and when their reminders and expiry fall."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

import pytest

from domain import commands as cmd
from domain import errors
from domain.visas import EXPIRY, VisaPolicy, alert_at, lapses_at, schedule
from domain.vocabulary import SYSTEM_ACTOR, ClosureReason, VisaKind, VisaState
from tests.unit.domain_strategies import DAY, T0, Case, identified

POLICY = VisaPolicy()
EXPIRES = date(2026, 3, 3)  # a year after T0
TWENTY_DAYS_AHEAD = datetime.combine(EXPIRES - timedelta(days=20), time(10), tzinfo=UTC)


def with_visa(expires_on: date = EXPIRES, **kwargs: object) -> tuple[Case, object]:
    case = identified()
    (event,) = case.do(
        cmd.RegisterVisa,
        visa_kind=VisaKind.RESIDENCE,
        number="R-123",
        issued_on=T0.date(),
        expires_on=expires_on,
        **kwargs,
    )
    return case, event.data.visa_id  # type: ignore[union-attr]


def remind(case: Case, visa_id: object, days: int, expires_on: date = EXPIRES) -> list[object]:
    return list(
        case.do(
            cmd.RecordVisaReminder,
            visa_id=visa_id,
            expires_on=expires_on,
            days=days,
            actor=SYSTEM_ACTOR,
        )
    )


class TestSchedule:
    def test_a_visa_registered_early_gets_every_reminder_then_its_expiry(self) -> None:
        alerts = schedule(EXPIRES, POLICY, T0)
        assert [a.days for a in alerts] == [90, 60, 30, 7, EXPIRY]
        assert alerts[0].at == datetime(2025, 12, 3, 14, tzinfo=UTC)  # 90 days, 14:00 UTC
        assert alerts[-1].at == datetime(2026, 3, 4, tzinfo=UTC)  # valid through its date

    def test_registered_twenty_days_ahead_gets_one_at_once_and_those_ahead(self) -> None:
        now = TWENTY_DAYS_AHEAD
        alerts = schedule(EXPIRES, POLICY, now)
        assert [(a.days, a.at) for a in alerts] == [
            (20, now),  # a catch-up: the 90, 60 and 30-day dates have passed
            (7, alert_at(EXPIRES, 7, POLICY)),
            (EXPIRY, lapses_at(EXPIRES)),
        ]

    def test_what_was_sent_is_not_sent_again(self) -> None:
        now = TWENTY_DAYS_AHEAD
        assert [a.days for a in schedule(EXPIRES, POLICY, now, sent=(20,))] == [7, EXPIRY]
        later = alert_at(EXPIRES, 7, POLICY) + timedelta(hours=1)
        assert [a.days for a in schedule(EXPIRES, POLICY, later, sent=(7,))] == [EXPIRY]

    def test_a_visa_expiring_today_counts_one_day_left(self) -> None:
        now = lapses_at(EXPIRES) - timedelta(hours=2)
        assert [a.days for a in schedule(EXPIRES, POLICY, now)] == [1, EXPIRY]

    def test_a_lapsed_visa_has_only_its_expiry_left(self) -> None:
        now = lapses_at(EXPIRES) + DAY
        assert [(a.days, a.at) for a in schedule(EXPIRES, POLICY, now)] == [(EXPIRY, now)]
        assert schedule(EXPIRES, POLICY, now, sent=(EXPIRY,)) == []

    def test_offsets_are_configurable_and_kept_in_order(self) -> None:
        policy = VisaPolicy(reminder_days=(7, 120, 7), supervisor_within_days=10)
        assert policy.reminder_days == (120, 7)
        assert [a.days for a in schedule(EXPIRES, policy, T0)] == [120, 7, EXPIRY]
        assert policy.to_supervisor(7) and not policy.to_supervisor(120)


class TestRegistration:
    def test_registered_visa_is_followed(self) -> None:
        case, visa_id = with_visa()
        visa = case.state.visas[visa_id]  # type: ignore[index]
        assert visa.state is VisaState.ACTIVE and visa.expires_on == EXPIRES
        assert case.state.follows_visas

    @pytest.mark.parametrize(
        ("issued_on", "expires_on", "error"),
        [
            (T0.date(), T0.date(), errors.VisaExpiryBeforeIssue),
            (T0.date(), T0.date() - DAY, errors.VisaExpiryBeforeIssue),
            (T0.date() + DAY, T0.date() + 400 * DAY, errors.VisaIssuedInFuture),
            (T0.date() - 400 * DAY, T0.date() - DAY, errors.VisaAlreadyExpired),
        ],
    )
    def test_invalid_dates_are_refused(
        self, issued_on: date, expires_on: date, error: type[errors.DomainError]
    ) -> None:
        case = identified()
        refusal = case.refused(
            cmd.RegisterVisa,
            visa_kind=VisaKind.WORK,
            number="W-1",
            issued_on=issued_on,
            expires_on=expires_on,
        )
        assert isinstance(refusal, error)

    def test_unknown_kind_is_refused_by_the_command_itself(self) -> None:
        with pytest.raises(ValueError, match="visa_kind"):
            cmd.RegisterVisa.model_validate(
                {
                    "command_id": "00000000-0000-0000-0000-000000000001",
                    "actor": "ana",
                    "at": T0,
                    "visa_kind": "tourist",
                    "number": "T-1",
                    "issued_on": T0.date(),
                    "expires_on": EXPIRES,
                }
            )


class TestRenewalAndCancellation:
    def test_renewal_extends_and_starts_a_new_cycle(self) -> None:
        case, visa_id = with_visa()
        case.later(280 * DAY)
        remind(case, visa_id, 90)
        case.do(cmd.RenewVisa, visa_id=visa_id, expires_on=EXPIRES + 365 * DAY, number="R-124")
        visa = case.state.visas[visa_id]  # type: ignore[index]
        assert (visa.expires_on, visa.number, visa.renewals) == (EXPIRES + 365 * DAY, "R-124", 1)
        assert visa.reminders_sent == ()
        # The old cycle's alerts no longer apply.
        refusal = case.refused(
            cmd.RecordVisaReminder,
            visa_id=visa_id,
            expires_on=EXPIRES,
            days=60,
            actor=SYSTEM_ACTOR,
        )
        assert isinstance(refusal, errors.VisaAlertStale)

    def test_renewal_must_be_later(self) -> None:
        case, visa_id = with_visa()
        refusal = case.refused(cmd.RenewVisa, visa_id=visa_id, expires_on=EXPIRES)
        assert isinstance(refusal, errors.VisaRenewalNotLater)

    def test_unknown_visa_is_refused(self) -> None:
        case, _ = with_visa()
        refusal = case.refused(cmd.RenewVisa, visa_id=T0_ID, expires_on=EXPIRES + 400 * DAY)
        assert isinstance(refusal, errors.VisaNotFound)

    def test_a_cancelled_visa_is_final(self) -> None:
        case, visa_id = with_visa()
        assert isinstance(
            case.refused(cmd.CancelVisa, visa_id=visa_id, reason="  "), errors.ReasonRequired
        )
        case.do(cmd.CancelVisa, visa_id=visa_id, reason="returned to her country")
        assert not case.state.follows_visas
        renewal = case.refused(cmd.RenewVisa, visa_id=visa_id, expires_on=EXPIRES + 365 * DAY)
        assert isinstance(renewal, errors.VisaCancelled)
        again = case.refused(cmd.CancelVisa, visa_id=visa_id, reason="twice")
        assert isinstance(again, errors.VisaCancelled)

    def test_an_expired_visa_can_still_be_renewed(self) -> None:
        case, visa_id = with_visa()
        case.now = lapses_at(EXPIRES) + DAY
        case.do(cmd.RecordVisaExpiry, visa_id=visa_id, expires_on=EXPIRES, actor=SYSTEM_ACTOR)
        assert case.state.visas[visa_id].state is VisaState.EXPIRED  # type: ignore[index]
        case.do(cmd.RenewVisa, visa_id=visa_id, expires_on=case.now.date() + 365 * DAY)
        assert case.state.visas[visa_id].state is VisaState.ACTIVE  # type: ignore[index]


class TestAlerts:
    def test_each_reminder_once_and_only_when_due(self) -> None:
        case, visa_id = with_visa()
        early = case.refused(
            cmd.RecordVisaReminder, visa_id=visa_id, expires_on=EXPIRES, days=90, actor="system"
        )
        assert isinstance(early, errors.NotDueYet)
        case.now = alert_at(EXPIRES, 90, POLICY)
        (event,) = remind(case, visa_id, 90)
        assert event.data.to_supervisor is False  # type: ignore[attr-defined]
        again = case.refused(
            cmd.RecordVisaReminder, visa_id=visa_id, expires_on=EXPIRES, days=90, actor="system"
        )
        assert isinstance(again, errors.VisaAlertStale)
        case.now = alert_at(EXPIRES, 7, POLICY)
        (event,) = remind(case, visa_id, 7)
        assert event.data.to_supervisor is True  # type: ignore[attr-defined]
        # An earlier reminder after a later one is stale (a delayed timer), and a catch-up
        # comes only first.
        catch_up = case.refused(
            cmd.RecordVisaReminder, visa_id=visa_id, expires_on=EXPIRES, days=3, actor="system"
        )
        assert isinstance(catch_up, errors.VisaAlertStale)
        stale = case.refused(
            cmd.RecordVisaReminder, visa_id=visa_id, expires_on=EXPIRES, days=30, actor="system"
        )
        assert isinstance(stale, errors.VisaAlertStale)

    def test_expiry_only_once_lapsed(self) -> None:
        case, visa_id = with_visa()
        case.now = lapses_at(EXPIRES) - timedelta(seconds=1)
        early = case.refused(
            cmd.RecordVisaExpiry, visa_id=visa_id, expires_on=EXPIRES, actor=SYSTEM_ACTOR
        )
        assert isinstance(early, errors.NotDueYet)
        case.now = lapses_at(EXPIRES)
        (event,) = case.do(
            cmd.RecordVisaExpiry, visa_id=visa_id, expires_on=EXPIRES, actor=SYSTEM_ACTOR
        )
        assert event.type == "VisaExpired" and event.occurred_at == lapses_at(EXPIRES)
        twice = case.refused(
            cmd.RecordVisaExpiry, visa_id=visa_id, expires_on=EXPIRES, actor=SYSTEM_ACTOR
        )
        assert isinstance(twice, errors.VisaAlertStale)

    def test_a_late_registration_catches_up_once(self) -> None:
        case = identified()
        case.now = TWENTY_DAYS_AHEAD
        (registered,) = case.do(
            cmd.RegisterVisa,
            visa_kind=VisaKind.WORK,
            number="W-9",
            issued_on=T0.date(),
            expires_on=EXPIRES,
        )
        visa_id = registered.data.visa_id  # type: ignore[union-attr]
        (event,) = remind(case, visa_id, 20)
        assert event.occurred_at == case.now and not event.data.to_supervisor  # type: ignore[attr-defined]
        assert isinstance(
            case.refused(
                cmd.RecordVisaReminder, visa_id=visa_id, expires_on=EXPIRES, days=30, actor="x"
            ),
            errors.VisaAlertStale,
        )


class TestClosure:
    def test_a_closed_case_keeps_following_the_visas_of_a_person_who_stays(self) -> None:
        case, visa_id = with_visa()
        case.do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT)
        case.do(cmd.DecideClosure, approved=True)
        assert case.state.follows_visas
        case.now = alert_at(EXPIRES, 90, POLICY)
        assert len(remind(case, visa_id, 90)) == 1
        case.do(cmd.RenewVisa, visa_id=visa_id, expires_on=EXPIRES + 365 * DAY)
        # but nothing else, and no new visa
        refusal = case.refused(
            cmd.RegisterVisa,
            visa_kind=VisaKind.WORK,
            number="W-2",
            issued_on=case.now.date(),
            expires_on=EXPIRES + 365 * DAY,
        )
        assert isinstance(refusal, errors.CaseClosed)
        case.do(cmd.CancelVisa, visa_id=visa_id, reason="naturalised")
        refusal = case.refused(cmd.CancelVisa, visa_id=visa_id, reason="again")
        assert isinstance(refusal, errors.CaseClosed)  # nothing followed any more

    def test_a_death_cancels_every_visa(self) -> None:
        case, _ = with_visa()
        case.do(cmd.RequestClosure, reason=ClosureReason.DECEASED)
        events = case.do(cmd.DecideClosure, approved=True)
        assert [e.type for e in events] == ["ClosureDecided", "CaseClosed", "VisaCancelled"]
        assert not case.state.follows_visas


T0_ID = UUID(int=77)


def test_dates_whose_timers_would_overflow_are_refused_by_the_command() -> None:
    with pytest.raises(ValueError, match="expires_on"):
        cmd.RenewVisa(command_id=T0_ID, actor="ana", at=T0, visa_id=T0_ID, expires_on=date.max)


def test_reminder_days_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from amparo.settings import Settings

    monkeypatch.setenv("AMPARO_VISA_REMINDER_DAYS", "[120, 14]")
    monkeypatch.setenv("AMPARO_VISA_SUPERVISOR_WITHIN_DAYS", "14")
    policy = Settings().visa_policy
    assert policy.reminder_days == (120, 14) and policy.to_supervisor(14)
    monkeypatch.setenv("AMPARO_VISA_REMINDER_DAYS", "[0]")
    with pytest.raises(ValueError, match="visa_reminder_days"):
        Settings()

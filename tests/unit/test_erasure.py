"""Erasing a person: only once the case is closed, for good, and nothing personal stays."""

from __future__ import annotations

from datetime import date, timedelta

from domain import commands as cmd
from domain.personal import ERASED
from domain.vocabulary import ClosureReason, Step, StepAction, VisaKind, VisaState
from tests.unit.domain_strategies import HOUR, T0, Case, identified


def closed_with_a_visa() -> Case:
    case = identified()
    case.later(HOUR).do(
        cmd.AdvanceStep, step=Step.SHELTER, action=StepAction.DECLINE, reason="wants her aunt"
    )
    case.do(
        cmd.RegisterVisa,
        visa_kind=VisaKind.RESIDENCE,
        number="R-2025-77",
        issued_on=T0.date(),
        expires_on=date(2026, 3, 3),
    )
    case.do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT, note="moved to Santiago")
    case.do(cmd.DecideClosure, approved=True, actor="sofia")
    return case


def test_an_open_case_cannot_be_erased() -> None:
    assert identified().refused(cmd.ErasePerson, reason="request").code == "case_not_closed"


def test_erasure_scrubs_the_person_cancels_the_visas_and_ends_the_case() -> None:
    case = closed_with_a_visa()
    assert case.state.follows_visas
    events = case.later(timedelta(days=2)).do(cmd.ErasePerson, reason="her request", actor="admin")
    assert [e.type for e in events] == ["VisaCancelled", "PersonErased"]
    state = case.state
    assert state.erased_at == events[-1].occurred_at
    assert state.person is not None
    assert (state.person.given_name, state.person.family_name, state.person.birth_date) == (
        ERASED,
        ERASED,
        None,
    )
    assert (state.person.sex, state.person.nationality) == ("female", "BO")  # for statistics
    assert state.steps[Step.SHELTER].reason == ERASED
    assert state.closure is not None and state.closure.note == ERASED
    (visa,) = state.visas.values()
    assert (visa.number, visa.state) == (ERASED, VisaState.CANCELLED)
    assert not state.follows_visas
    assert case.refused(cmd.ErasePerson, reason="again").code == "person_erased"
    renewal = case.refused(cmd.RenewVisa, visa_id=visa.visa_id, expires_on=date(2027, 1, 1))
    assert renewal.code == "case_closed"
    assert case.refused(cmd.AddNote, text="a note").code == "case_closed"
    assert case.refused(cmd.ErasePerson, reason="   ").code == "person_erased"


def test_a_reason_is_required() -> None:
    assert closed_with_a_visa().refused(cmd.ErasePerson, reason="  ").code == "reason_required"

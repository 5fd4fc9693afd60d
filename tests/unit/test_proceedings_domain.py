"""The proceedings' decider: every transition, and every refusal with its code."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from domain import errors, proceedings
from domain.ids import event_id
from domain.person import Sex
from domain.proceedings import (
    AccusationFiled,
    ArchiveProceeding,
    ArchiveReason,
    FileAccusation,
    HandDownSentence,
    ImputedPerson,
    ImputePersons,
    InvestigationOpened,
    LinkVictims,
    OpenInvestigation,
    PersonsImputed,
    ProceedingArchived,
    ProceedingCommand,
    ProceedingEvent,
    ProceedingStage,
    ProceedingState,
    SentenceHandedDown,
    Verdict,
    VictimsLinked,
    decide_proceeding,
    evolve_proceeding,
    evolve_proceeding_all,
)
from domain.vocabulary import CrimeType

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PROCEEDING = UUID("5b1d0a6e-2f0c-4c55-9d1e-0f5a3e0b9a01")
CASE_A, CASE_B, CASE_C = (UUID(int=n) for n in (1, 2, 3))
MAN = ImputedPerson(sex=Sex.MALE, nationality="do")
WOMAN = ImputedPerson(sex=Sex.FEMALE)


def envelope(at: datetime, **fields: Any) -> dict[str, Any]:
    return {"command_id": uuid4(), "actor": "fiscal", "at": at, **fields}


def opening(at: datetime = T0, **fields: Any) -> OpenInvestigation:
    return OpenInvestigation(
        **envelope(at, proceeding_id=PROCEEDING, crime_type=CrimeType.TRAFFICKING, **fields)
    )


def run(commands: list[ProceedingCommand], state: ProceedingState | None = None) -> ProceedingState:
    """Decide and fold each command in turn (each must be accepted)."""
    state = state or ProceedingState()
    for command in commands:
        for event in decide_proceeding(state, command):
            state = evolve_proceeding(state, event)
    return state


def refused(state: ProceedingState, command: ProceedingCommand, code: str) -> None:
    with pytest.raises(errors.DomainError) as raised:
        decide_proceeding(state, command)
    assert raised.value.code == code


def opened(**fields: Any) -> ProceedingState:
    return run([opening(**fields)])


def imputed(persons: tuple[ImputedPerson, ...] = (MAN, WOMAN)) -> ProceedingState:
    return run([ImputePersons(**envelope(T0 + HOUR), persons=persons)], opened())


def prosecuted() -> ProceedingState:
    return run([FileAccusation(**envelope(T0 + 2 * HOUR))], imputed())


def sentence(verdict: Verdict, convicted: int, at: datetime = T0 + 3 * HOUR) -> HandDownSentence:
    return HandDownSentence(**envelope(at), verdict=verdict, convicted=convicted)


def archive(at: datetime = T0 + 3 * HOUR) -> ArchiveProceeding:
    return ArchiveProceeding(**envelope(at), reason=ArchiveReason.INSUFFICIENT_EVIDENCE)


class TestTransitions:
    def test_opening_starts_the_investigation_with_its_victims_once_each(self) -> None:
        command = opening(case_ids=(CASE_A, CASE_B, CASE_A), reference="PETT-2026/17")
        [event] = decide_proceeding(ProceedingState(), command)
        assert event.event_id == event_id(command.command_id, 0, command.at)
        assert (event.proceeding_id, event.version, event.actor) == (PROCEEDING, 1, "fiscal")
        assert event.data == InvestigationOpened(
            crime_type=CrimeType.TRAFFICKING, case_ids=(CASE_A, CASE_B), reference="PETT-2026/17"
        )
        state = evolve_proceeding(ProceedingState(), event)
        assert state.proceeding_id == PROCEEDING
        assert state.stage is ProceedingStage.INVESTIGATION
        assert state.case_ids == (CASE_A, CASE_B)
        assert state.opened_at == state.last_event_at == T0
        assert state.reference == "PETT-2026/17" and state.version == 1

    def test_an_opening_recorded_after_the_fact_dates_it_then(self) -> None:
        state = run([opening(at=T0, occurred_at=T0 - 24 * HOUR)])
        assert state.opened_at == T0 - 24 * HOUR

    def test_linking_adds_only_the_cases_not_linked(self) -> None:
        state = opened(case_ids=(CASE_A,))
        command = LinkVictims(**envelope(T0 + HOUR), case_ids=(CASE_A, CASE_B, CASE_C, CASE_B))
        [event] = decide_proceeding(state, command)
        assert event.data == VictimsLinked(case_ids=(CASE_B, CASE_C))
        after = evolve_proceeding(state, event)
        assert after.case_ids == (CASE_A, CASE_B, CASE_C) and after.version == 2

    def test_imputations_add_up_and_continue_during_the_prosecution(self) -> None:
        state = imputed()
        assert state.imputed == 2 and state.stage is ProceedingStage.INVESTIGATION
        later = run([ImputePersons(**envelope(T0 + 3 * HOUR), persons=(MAN,))], prosecuted())
        assert later.imputed == 3 and later.stage is ProceedingStage.PROSECUTION

    def test_the_accusation_moves_it_to_prosecution(self) -> None:
        state = prosecuted()
        assert state.stage is ProceedingStage.PROSECUTION
        assert state.prosecuted_at == T0 + 2 * HOUR and state.ended_at is None

    @pytest.mark.parametrize(
        ("verdict", "convicted"), [(Verdict.CONDEMNATORY, 2), (Verdict.ACQUITTAL, 0)]
    )
    def test_a_sentence_ends_it(self, verdict: Verdict, convicted: int) -> None:
        state = run([sentence(verdict, convicted)], prosecuted())
        assert state.stage is ProceedingStage.SENTENCED and state.stage.final
        assert (state.verdict, state.convicted) == (verdict, convicted)
        assert state.ended_at == T0 + 3 * HOUR

    @pytest.mark.parametrize("before", [opened, imputed, prosecuted])
    def test_archiving_ends_it_from_any_open_stage(self, before: Any) -> None:
        state = run([archive()], before())
        assert state.stage is ProceedingStage.ARCHIVED and state.stage.final
        assert state.archive_reason is ArchiveReason.INSUFFICIENT_EVIDENCE
        assert state.ended_at == T0 + 3 * HOUR

    def test_events_survive_storage(self) -> None:
        """`from_stored(data_json())` gives the event back (the store relies on it)."""
        state = ProceedingState()
        commands: list[ProceedingCommand] = [
            opening(case_ids=(CASE_A,)),
            LinkVictims(**envelope(T0 + HOUR), case_ids=(CASE_B,)),
            ImputePersons(**envelope(T0 + HOUR), persons=(MAN, WOMAN)),
            FileAccusation(**envelope(T0 + 2 * HOUR)),
            sentence(Verdict.CONDEMNATORY, 1),
        ]
        history: list[ProceedingEvent] = []
        for command in commands:
            [event] = decide_proceeding(state, command)
            state = evolve_proceeding(state, event)
            history.append(event)
        kinds = [type(e.data) for e in history]
        assert kinds == [
            InvestigationOpened, VictimsLinked, PersonsImputed, AccusationFiled, SentenceHandedDown
        ]  # fmt: skip
        for event in history:
            stored = ProceedingEvent.from_stored(
                **event.model_dump(exclude={"data"}), type=event.type, data=event.data_json()
            )
            assert stored == event
        assert evolve_proceeding_all(history) == state
        assert [e.version for e in history] == [1, 2, 3, 4, 5]

    def test_archived_event_and_nationality_codes(self) -> None:
        [event] = decide_proceeding(opened(), archive())
        assert event.data == ProceedingArchived(reason=ArchiveReason.INSUFFICIENT_EVIDENCE)
        assert MAN.nationality == "DO"
        with pytest.raises(ValidationError):
            ImputedPerson(sex=Sex.MALE, nationality="Dominicana")


class TestRefusals:
    def test_occurred_in_future(self) -> None:
        refused(ProceedingState(), opening(occurred_at=T0 + HOUR), "occurred_in_future")
        later = FileAccusation(**envelope(T0 + HOUR, occurred_at=T0 + 2 * HOUR))
        refused(imputed(), later, "occurred_in_future")

    def test_proceeding_already_open(self) -> None:
        refused(opened(), opening(at=T0 + HOUR), "proceeding_already_open")

    @pytest.mark.parametrize(
        "command",
        [
            LinkVictims(**envelope(T0), case_ids=(CASE_A,)),
            ImputePersons(**envelope(T0), persons=(MAN,)),
            FileAccusation(**envelope(T0)),
            sentence(Verdict.ACQUITTAL, 0),
            archive(),
        ],
    )
    def test_proceeding_not_found(self, command: ProceedingCommand) -> None:
        refused(ProceedingState(), command, "proceeding_not_found")

    @pytest.mark.parametrize(
        "ended",
        [
            lambda: run([sentence(Verdict.ACQUITTAL, 0)], prosecuted()),
            lambda: run([archive()], opened()),
        ],
    )
    def test_proceeding_final(self, ended: Any) -> None:
        state = ended()
        at = T0 + 4 * HOUR
        for command in (
            LinkVictims(**envelope(at), case_ids=(CASE_C,)),
            ImputePersons(**envelope(at), persons=(MAN,)),
            FileAccusation(**envelope(at)),
            sentence(Verdict.ACQUITTAL, 0, at),
            archive(at),
        ):
            refused(state, command, "proceeding_final")

    def test_occurred_before_opening(self) -> None:
        early = ImputePersons(**envelope(T0 + HOUR, occurred_at=T0 - HOUR), persons=(MAN,))
        refused(opened(), early, "occurred_before_opening")

    def test_victims_already_linked(self) -> None:
        again = LinkVictims(**envelope(T0 + HOUR), case_ids=(CASE_A, CASE_A))
        refused(opened(case_ids=(CASE_A,)), again, "victims_already_linked")

    def test_already_prosecuted(self) -> None:
        refused(prosecuted(), FileAccusation(**envelope(T0 + 3 * HOUR)), "already_prosecuted")

    def test_nobody_imputed(self) -> None:
        refused(opened(), FileAccusation(**envelope(T0 + HOUR)), "nobody_imputed")

    def test_not_prosecuted(self) -> None:
        refused(imputed(), sentence(Verdict.CONDEMNATORY, 1), "not_prosecuted")

    def test_occurred_before_accusation(self) -> None:
        early = sentence(Verdict.CONDEMNATORY, 1, T0 + 3 * HOUR)
        early = early.model_copy(update={"occurred_at": T0 + HOUR + HOUR / 2})
        refused(prosecuted(), early, "occurred_before_accusation")

    def test_convicted_required(self) -> None:
        refused(prosecuted(), sentence(Verdict.CONDEMNATORY, 0), "convicted_required")

    def test_acquittal_convicts_nobody(self) -> None:
        refused(prosecuted(), sentence(Verdict.ACQUITTAL, 1), "acquittal_convicts_nobody")

    def test_convicted_exceeds_imputed(self) -> None:
        refused(prosecuted(), sentence(Verdict.CONDEMNATORY, 3), "convicted_exceeds_imputed")

    def test_every_proceeding_code_is_covered(self) -> None:
        """Each refusal the decider raises has its test here (a new one needs one)."""
        source = inspect.getsource(proceedings)
        raised = {getattr(errors, name).code for name in re.findall(r"errors\.(\w+)\(", source)}
        tested = {name.removeprefix("test_") for name in dir(self) if name.startswith("test_")}
        assert len(raised) == 13
        assert raised <= tested

    def test_invalid_commands_are_refused_when_built(self) -> None:
        with pytest.raises(ValidationError):
            LinkVictims(**envelope(T0), case_ids=())
        with pytest.raises(ValidationError):
            ImputePersons(**envelope(T0), persons=())
        with pytest.raises(ValidationError):
            HandDownSentence(**envelope(T0), verdict=Verdict.CONDEMNATORY, convicted=-1)
        with pytest.raises(ValidationError):
            opening(reference="no\nnewlines")

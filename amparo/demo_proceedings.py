"""Demo proceedings: the prosecution side of the seed's half-year (January–June 2017).

Built so that the statistical report for 2017-01-01 to 2017-06-30 gives the seed's table
exactly (`SEED_TABLE`), with proceedings that really move: some opened in 2016 and
accused or sentenced in the half-year, some opened in it, a few archived, and some that
went on after it (sentenced in 2018), so other periods give other figures. Every
moment is noon in Santo Domingo, far from any day's edge; ids derive from names, so a
second load finds them and skips them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from amparo.proceedings import ProceedingCommands
from domain import proceedings as pr
from domain.person import Sex
from domain.vocabulary import CrimeType

NAMESPACE = uuid.UUID("9a6c3c1e-7f0e-4f53-8e1a-2017d0c5a11e")
PROSECUTOR = "fiscal.pett"  # the specialized prosecutor's office's demo user

# The seed report's table (January–June 2017): the figures the demo must reproduce.
SEED_TABLE = {
    CrimeType.TRAFFICKING: {
        "cases_prosecuted": 12,
        "imputed_persons": 14,
        "cases_under_investigation": 27,
        "identified_victims": 25,
        "condemnatory_sentences": 8,
        "convicted_persons": 10,
    },
    CrimeType.SMUGGLING: {
        "cases_prosecuted": 7,
        "imputed_persons": 10,
        "cases_under_investigation": 20,
        "identified_victims": 63,
        "condemnatory_sentences": 5,
        "convicted_persons": 6,
    },
}


@dataclass(frozen=True)
class _Shape:
    """How one crime type's proceedings are spread around the half-year."""

    # Opened and accused in 2016, sentenced (condemnatory) in the half-year: (imputed,
    # convicted) each. Not under investigation in it: accused before it began.
    sentenced: list[tuple[int, int]]
    acquitted_in_half: int  # prosecuted in 2016, acquitted in the half-year: counted nowhere
    # Accused in the half-year: opened in 2016 with their imputations then ...
    accused_opened_2016: int
    # ... or opened in the half-year, with these imputations in it.
    accused_opened_in_half: list[int]
    # Still investigated in the half-year, not accused in it: imputations in it each
    # (0: none yet), then how many of them were archived in it.
    investigated: list[int]
    archived_in_half: int
    archived_2016: int  # archived before it: counted nowhere


SHAPES = {
    CrimeType.TRAFFICKING: _Shape(
        sentenced=[(1, 1), (1, 1), (2, 1), (1, 1), (1, 1), (1, 1), (2, 2), (3, 2)],
        acquitted_in_half=1,
        accused_opened_2016=6,
        accused_opened_in_half=[1, 1, 2, 1, 1, 2],
        investigated=[1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        archived_in_half=2,
        archived_2016=1,
    ),
    CrimeType.SMUGGLING: _Shape(
        sentenced=[(1, 1), (2, 1), (1, 1), (1, 1), (2, 2)],
        acquitted_in_half=1,
        accused_opened_2016=3,
        accused_opened_in_half=[2, 1, 2, 1],
        investigated=[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        archived_in_half=1,
        archived_2016=1,
    ),
}
NATIONALITIES = {CrimeType.TRAFFICKING: ["DO", "DO", "VE", "CO"], CrimeType.SMUGGLING: ["DO", "HT"]}


@dataclass
class DemoProceeding:
    proceeding_id: uuid.UUID
    commands: list[pr.ProceedingCommand] = field(default_factory=list)


def _noon(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 16, tzinfo=UTC)  # noon in Santo Domingo (UTC-4)


class _Builder:
    def __init__(self, crime: CrimeType, now: datetime, victims: list[uuid.UUID]) -> None:
        self.crime, self.now, self.victims = crime, now, victims
        self.built: list[DemoProceeding] = []
        self._next_victim = 0

    def new(self, opened: datetime) -> DemoProceeding:
        name = f"{self.crime.value}-{len(self.built) + 1}"
        proceeding = DemoProceeding(uuid.uuid5(NAMESPACE, name))
        self.built.append(proceeding)
        cases = self._victims() if opened.year == 2017 else ()
        self._add(
            proceeding,
            pr.OpenInvestigation,
            opened,
            proceeding_id=proceeding.proceeding_id,
            crime_type=self.crime,
            case_ids=cases,
            reference=f"PETT-{opened.year}-{len(self.built):03d}",
        )
        return proceeding

    def _victims(self) -> tuple[uuid.UUID, ...]:
        if self._next_victim >= len(self.victims):
            return ()
        taken = self.victims[self._next_victim : self._next_victim + 2]
        self._next_victim += 2
        return tuple(taken)

    def impute(self, proceeding: DemoProceeding, count: int, at: datetime) -> None:
        if count:
            nationalities = NATIONALITIES[self.crime]
            persons = tuple(
                pr.ImputedPerson(
                    sex=Sex.MALE if n % 3 else Sex.FEMALE,
                    nationality=nationalities[n % len(nationalities)],
                )
                for n in range(count)
            )
            self._add(proceeding, pr.ImputePersons, at, persons=persons)

    def accuse(self, proceeding: DemoProceeding, at: datetime) -> None:
        self._add(proceeding, pr.FileAccusation, at)

    def sentence(
        self, proceeding: DemoProceeding, at: datetime, verdict: pr.Verdict, convicted: int
    ) -> None:
        self._add(proceeding, pr.HandDownSentence, at, verdict=verdict, convicted=convicted)

    def archive(self, proceeding: DemoProceeding, at: datetime, reason: pr.ArchiveReason) -> None:
        self._add(proceeding, pr.ArchiveProceeding, at, reason=reason)

    def _add(self, proceeding: DemoProceeding, kind: Any, at: datetime, **fields: Any) -> None:
        number = len(proceeding.commands) + 1
        proceeding.commands.append(
            kind(
                command_id=uuid.uuid5(proceeding.proceeding_id, f"command-{number}"),
                actor=PROSECUTOR,
                at=self.now,
                occurred_at=at,
                **fields,
            )
        )


def build_proceedings(
    now: datetime, victims: dict[CrimeType, list[uuid.UUID]]
) -> list[DemoProceeding]:
    """Every demo proceeding with its commands in order; `victims`: the demo's case ids
    per crime type, linked two by two to the proceedings opened in 2017."""
    built: list[DemoProceeding] = []
    for crime, shape in SHAPES.items():
        b = _Builder(crime, now, victims.get(crime, []))
        for n, (imputed, convicted) in enumerate(shape.sentenced):
            p = b.new(_noon(2016, 1 + n % 6, 10))
            b.impute(p, imputed, _noon(2016, 7, 5 + n))
            b.accuse(p, _noon(2016, 9, 1 + n))
            b.sentence(p, _noon(2017, 2 + n % 5, 12 + n), pr.Verdict.CONDEMNATORY, convicted)
        for n in range(shape.acquitted_in_half):
            p = b.new(_noon(2016, 3, 20 + n))
            b.impute(p, 1, _noon(2016, 6, 1))
            b.accuse(p, _noon(2016, 10, 3))
            b.sentence(p, _noon(2017, 5, 18 + n), pr.Verdict.ACQUITTAL, 0)
        for n in range(shape.accused_opened_2016):
            p = b.new(_noon(2016, 8 + n % 4, 2 + n))
            b.impute(p, 1, _noon(2016, 12, 1 + n))
            b.accuse(p, _noon(2017, 1 + n % 6, 20))
            if n % 2 == 0:  # tried after the half-year
                b.sentence(p, _noon(2018, 3, 1 + n), pr.Verdict.CONDEMNATORY, 1)
        for n, imputed in enumerate(shape.accused_opened_in_half):
            p = b.new(_noon(2017, 1 + n % 4, 5 + n))
            b.impute(p, imputed, _noon(2017, 2 + n % 4, 15))
            b.accuse(p, _noon(2017, 6, 1 + n))
        for n, imputed in enumerate(shape.investigated):
            opened = _noon(2016, 11, 1 + n) if n % 3 == 0 else _noon(2017, 1 + n % 6, 3 + n)
            p = b.new(opened)
            b.impute(p, imputed, _noon(2017, 6, 10 + n % 10))
            if n < shape.archived_in_half:
                b.archive(p, _noon(2017, 6, 25), pr.ArchiveReason.INSUFFICIENT_EVIDENCE)
            elif imputed and n % 2:  # imputed in the half-year, accused after it
                b.accuse(p, _noon(2017, 9, 1 + n))
        for n in range(shape.archived_2016):
            p = b.new(_noon(2016, 2, 1 + n))
            b.archive(p, _noon(2016, 12, 15), pr.ArchiveReason.OFFENDER_NOT_IDENTIFIED)
        built += b.built
    return built


def load_proceedings(
    commands: ProceedingCommands, victims: dict[CrimeType, list[uuid.UUID]], now: datetime
) -> tuple[int, int]:
    """Record every demo proceeding not already there: (loaded, skipped)."""
    loaded = skipped = 0
    for proceeding in build_proceedings(now, victims):
        if commands.store.state(proceeding.proceeding_id).stage is not None:
            skipped += 1
            continue
        for command in proceeding.commands:
            commands.record(proceeding.proceeding_id, command)
        loaded += 1
    return loaded, skipped

"""Each indicator of the statistical report against a brute-force count over the raw
events, for random histories of cases and proceedings whose moments sit on the period's
edges (the last second of its last day, the first of the day after) in several time
zones, on SQLite and PostgreSQL.

The report reads projections through SQL; the brute force walks the events in Python
with the definitions as the report states them. They must agree on every figure.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from domain import CaseState, DomainError, Event, decide, evolve
from domain import commands as cmd
from domain import events as ev
from domain import proceedings as pr
from domain.person import ExploitationType, Person, Sex, VictimContext
from domain.statistics import Period
from domain.vocabulary import CrimeType, IdentificationOutcome, Step, StepAction
from reports.model import Dimension, Indicator, Variant
from reports.statistics import statistics_report
from store import schema
from store.event_store import EventStore
from store.proceedings import ProceedingStore
from store.victim_statistics import VictimStatisticsProjector

NOW = datetime(2026, 12, 5, tzinfo=UTC)
ZONES = ["America/Santo_Domingo", "UTC", "Pacific/Kiritimati", "America/Los_Angeles",
         "Asia/Kathmandu"]  # fmt: skip
PERIOD_DAYS = (date(2017, 1, 1), date(2017, 6, 30))
OUTCOMES = [IdentificationOutcome.CONFIRMED_VICTIM, IdentificationOutcome.SMUGGLED_PERSON,
            IdentificationOutcome.NOT_A_VICTIM]  # fmt: skip
ASSISTANCE = [Step.SHELTER, Step.HEALTH, Step.LEGAL, Step.DOCUMENTATION]


def edges(period: Period) -> list[datetime]:
    """Moments that test the period's bounds, and some well inside or outside it."""
    second = timedelta(seconds=1)
    return [
        period.start - timedelta(days=40),
        period.start - second,
        period.start,
        period.start + second,
        period.start + timedelta(days=60, hours=5),
        period.end - second,  # 23:59:59 on the last day, local
        period.end,
        period.end + second,
        period.end + timedelta(days=30),
    ]


@st.composite
def moments(draw: st.DrawFn, period: Period, count: int) -> list[datetime]:
    """`count` moments in order (ties allowed), drawn among the edges."""
    picks = draw(st.lists(st.sampled_from(edges(period)), min_size=count, max_size=count))
    return sorted(picks)


@st.composite
def case_history(draw: st.DrawFn, period: Period) -> list[Any]:
    """An opening, perhaps an identification, and some assistance steps completed."""
    times = draw(moments(period, 6))
    crime = draw(st.sampled_from(list(CrimeType)))
    person = Person(
        given_name="Ana",
        family_name="Peña",
        sex=draw(st.sampled_from(list(Sex))),
        birth_date=draw(st.sampled_from([None, date(1990, 5, 1), date(2005, 1, 1)])),
        nationality=draw(st.sampled_from(["DO", "HT", "VE"])),
    )
    kinds = draw(st.lists(st.sampled_from(list(ExploitationType)[:3]), max_size=2, unique=True))
    history: list[Any] = [
        cmd.OpenCase(
            command_id=uuid4(),
            actor="ana",
            at=NOW,
            occurred_at=times[0],
            case_id=uuid4(),
            crime_type=crime,
            person=person,
            victim=VictimContext(exploitation_types=tuple(kinds)),
            assigned_to="ana",
        )
    ]
    if draw(st.booleans()):
        outcome = draw(st.sampled_from(OUTCOMES))
        history.append(_step(Step.IDENTIFICATION, StepAction.COMPLETE, times[1], outcome=outcome))
        for step, at in zip(draw(st.permutations(ASSISTANCE)), times[2:], strict=False):
            if draw(st.booleans()):
                history.append(_step(step, StepAction.COMPLETE, at))
    return history


def _step(step: Step, action: StepAction, at: datetime, **extra: Any) -> cmd.AdvanceStep:
    return cmd.AdvanceStep(
        command_id=uuid4(), actor="ana", at=NOW, occurred_at=at, step=step, action=action,
        **extra,
    )  # fmt: skip


@st.composite
def proceeding_history(draw: st.DrawFn, period: Period) -> list[pr.ProceedingCommand]:
    times = draw(moments(period, 5))
    history: list[pr.ProceedingCommand] = [
        pr.OpenInvestigation(
            command_id=uuid4(),
            actor="fiscal",
            at=NOW,
            occurred_at=times[0],
            proceeding_id=uuid4(),
            crime_type=draw(st.sampled_from(list(CrimeType))),
        )
    ]
    for at in times[1:]:
        base = {"command_id": uuid4(), "actor": "fiscal", "at": NOW, "occurred_at": at}
        choice = draw(st.sampled_from(["impute", "impute", "accuse", "sentence", "archive"]))
        if choice == "impute":
            persons = tuple(pr.ImputedPerson() for _ in range(draw(st.integers(1, 3))))
            history.append(pr.ImputePersons(**base, persons=persons))
        elif choice == "accuse":
            history.append(pr.FileAccusation(**base))
        elif choice == "sentence":
            verdict = draw(st.sampled_from(list(pr.Verdict)))
            convicted = draw(st.integers(0, 3))
            history.append(pr.HandDownSentence(**base, verdict=verdict, convicted=convicted))
        else:
            history.append(pr.ArchiveProceeding(**base, reason=pr.ArchiveReason.OTHER))
    return history


@st.composite
def world(draw: st.DrawFn) -> tuple[Period, list[list[Any]], list[list[pr.ProceedingCommand]]]:
    period = Period(*PERIOD_DAYS, draw(st.sampled_from(ZONES)))
    cases = draw(st.lists(case_history(period), max_size=8))
    proceedings = draw(st.lists(proceeding_history(period), max_size=8))
    return period, cases, proceedings


# --- recording: the domain decides, refusals are skipped (they record nothing) ---------


def record_case(store: EventStore, history: list[Any]) -> list[Event]:
    state, stored = CaseState(), list[Event]()
    for command in history:
        try:
            new = decide(state, command)
        except DomainError:
            continue
        store.append(new)
        for event in new:
            state = evolve(state, event)
        stored += new
    return stored


def record_proceeding(
    store: ProceedingStore, history: list[pr.ProceedingCommand]
) -> list[pr.ProceedingEvent]:
    state, stored = pr.ProceedingState(), list[pr.ProceedingEvent]()
    for command in history:
        try:
            new = pr.decide_proceeding(state, command)
        except DomainError:
            continue
        store.append(new)
        for event in new:
            state = pr.evolve_proceeding(state, event)
        stored += new
    return stored


# --- the brute force: the definitions, walked over the raw events ------------------------


def brute_force(
    period: Period, case_events: list[Event], proceeding_events: list[pr.ProceedingEvent]
) -> dict[str, Any]:
    counts: dict[CrimeType, Counter[Indicator]] = {c: Counter() for c in CrimeType}
    crime_of: dict[UUID, CrimeType] = {}
    opened: dict[UUID, datetime] = {}
    investigation_end: dict[UUID, datetime] = {}
    for event in proceeding_events:
        data, at, pid = event.data, event.occurred_at, event.proceeding_id
        if isinstance(data, pr.InvestigationOpened):
            crime_of[pid], opened[pid] = data.crime_type, at
            continue
        crime = crime_of[pid]
        if isinstance(data, (pr.AccusationFiled, pr.ProceedingArchived)):
            investigation_end.setdefault(pid, at)
        if isinstance(data, pr.AccusationFiled) and period.holds(at):
            counts[crime][Indicator.PROSECUTED] += 1
        if isinstance(data, pr.PersonsImputed) and period.holds(at):
            counts[crime][Indicator.IMPUTED] += len(data.persons)
        if (
            isinstance(data, pr.SentenceHandedDown)
            and data.verdict is pr.Verdict.CONDEMNATORY
            and period.holds(at)
        ):
            counts[crime][Indicator.SENTENCES] += 1
            counts[crime][Indicator.CONVICTED] += data.convicted
    for pid, start in opened.items():
        ended = investigation_end.get(pid)
        if start < period.end and (ended is None or ended >= period.start):
            counts[crime_of[pid]][Indicator.UNDER_INVESTIGATION] += 1

    profiles: dict[UUID, ev.CaseOpened] = {}
    case_crime: dict[UUID, CrimeType] = {}
    step_opened: dict[tuple[UUID, Step], datetime] = {}
    breakdowns: dict[tuple[CrimeType, Dimension], Counter[str]] = defaultdict(Counter)
    durations: dict[tuple[CrimeType, Step], list[float]] = defaultdict(list)
    group = {IdentificationOutcome.CONFIRMED_VICTIM: CrimeType.TRAFFICKING,
             IdentificationOutcome.SMUGGLED_PERSON: CrimeType.SMUGGLING}  # fmt: skip
    for case_event in case_events:
        fact, moment = case_event.data, case_event.occurred_at
        if isinstance(fact, ev.CaseOpened):
            profiles[case_event.case_id], case_crime[case_event.case_id] = fact, fact.crime_type
        elif isinstance(fact, ev.StepOpened):
            step_opened[(case_event.case_id, fact.step)] = moment
        elif isinstance(fact, ev.StepCompleted) and period.holds(moment):
            days = (moment - step_opened[(case_event.case_id, fact.step)]).total_seconds() / 86400
            durations[(case_crime[case_event.case_id], fact.step)].append(days)
            if fact.step is Step.IDENTIFICATION and fact.outcome in group:
                crime = group[fact.outcome]
                counts[crime][Indicator.VICTIMS] += 1
                profile = profiles[case_event.case_id]
                breakdowns[(crime, Dimension.SEX)][profile.person.sex.value] += 1
                age = profile.age_group.value if profile.age_group else "unknown"
                breakdowns[(crime, Dimension.AGE_GROUP)][age] += 1
                breakdowns[(crime, Dimension.NATIONALITY)][profile.person.nationality] += 1
                for kind in [k.value for k in profile.victim.exploitation_types] or ["unknown"]:
                    breakdowns[(crime, Dimension.EXPLOITATION_TYPE)][kind] += 1
    return {"counts": counts, "breakdowns": breakdowns, "durations": durations}


def nearest_rank_p90(values: list[float]) -> float:
    ordered = sorted(values)
    rank = -(-9 * len(ordered) // 10)  # ceil(0.9 n)
    return ordered[rank - 1]


# --- the property -------------------------------------------------------------------------

TABLES = [schema.identified_victims, schema.case_steps, schema.cases, schema.events,
          schema.caseworker_deadlines, schema.caseworker_load, schema.proceeding_imputations,
          schema.proceeding_victims, schema.proceedings, schema.proceeding_events]  # fmt: skip


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(delete(table))


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_every_indicator_equals_a_brute_force_count_over_the_events(engine: Engine) -> None:
    cases_store = EventStore(engine, also=[VictimStatisticsProjector()])
    proceedings_store = ProceedingStore(engine)

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(world())
    def check(drawn: tuple[Period, list[list[Any]], list[list[pr.ProceedingCommand]]]) -> None:
        period, cases, proceedings = drawn
        empty(engine)
        case_events = [e for h in cases for e in record_case(cases_store, h)]
        proceeding_events = [
            e for h in proceedings for e in record_proceeding(proceedings_store, h)
        ]
        expected = brute_force(period, case_events, proceeding_events)
        report = statistics_report(engine, period, variant=Variant.FULL, now=NOW)

        for figures in report.figures:
            wanted = expected["counts"][figures.crime_type]
            got = {indicator: figures.values[indicator] for indicator in Indicator}
            assert got == {i: wanted[i] for i in Indicator}, (period.zone, figures.crime_type)
        for breakdown in report.breakdowns:
            wanted_counts = expected["breakdowns"][(breakdown.crime_type, breakdown.dimension)]
            assert breakdown.counts == dict(wanted_counts), breakdown.dimension
        for duration in report.step_durations:
            days = expected["durations"][(duration.crime_type, duration.step)]
            assert duration.completed == len(days)
            if days:
                assert duration.median_days == round(statistics.median(days), 1)
                assert duration.p90_days == round(nearest_rank_p90(days), 1)
            else:
                assert duration.median_days is None and duration.p90_days is None

    check()

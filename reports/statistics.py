"""The national statistical report, computed from the projections for any period.

Every figure is one grouped query over a projection rebuilt from the events
(`proceedings`, `proceeding_imputations`, `identified_victims`, `case_steps`), bounded by
the period's instants (`domain.statistics.Period`), so a half-year of a large store is
read through the date indexes, not scanned. The rules (what counts, suppression,
percentiles) are `domain.statistics`'.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select

from domain.statistics import DEFINITIONS, Period, median_and_p90, public_cells, suppressed
from domain.vocabulary import CrimeType, IdentificationOutcome, Step, StepState
from reports.model import (
    Breakdown,
    Cell,
    CrimeFigures,
    Definition,
    Dimension,
    Indicator,
    StatisticsReport,
    StepDuration,
    Variant,
)
from store.schema import case_steps, identified_victims, proceeding_imputations, proceedings

TITLE = "Statistical report on trafficking in persons and migrant smuggling"
# Which identification outcome makes a person count for which crime type.
OUTCOME_OF = {
    CrimeType.TRAFFICKING: IdentificationOutcome.CONFIRMED_VICTIM,
    CrimeType.SMUGGLING: IdentificationOutcome.SMUGGLED_PERSON,
}
UNKNOWN = "unknown"
# Breakdowns whose counts add up to the victims' total (a person has one sex, age group and
# nationality, but may have suffered several types of exploitation).
PARTITIONS = frozenset({Dimension.SEX, Dimension.AGE_GROUP, Dimension.NATIONALITY})
NOTES = [
    "Every figure counts events by when they happened (occurred_at), in the period's local "
    "days: work recorded late changes the report of the period it happened in.",
    "Persons are never listed: the report holds counts only.",
    "Step durations: days from a step's opening to its completion, over the steps "
    "completed in the period; median and 90th percentile (nearest rank).",
]
PUBLIC_NOTE = (
    "Public variant: counts from 1 to 4 are shown as <5, and durations over fewer than 5 "
    "steps are not shown, so that no one can be singled out; * marks a count withheld so "
    "that a <5 beside it cannot be worked out from the total."
)


def statistics_report(
    engine: Engine, period: Period, *, variant: Variant, now: datetime
) -> StatisticsReport:
    """The report for `period`, as of the projections now."""
    with engine.connect() as conn:
        counts = _indicators(conn, period)
        victims = _victims(conn, period)
        durations = _durations(conn, period)
    cell = _cell_for(variant)
    figures = [
        CrimeFigures(
            crime_type=crime,
            values={indicator: cell(counts[crime][indicator]) for indicator in Indicator},
        )
        for crime in CrimeType
    ]
    return StatisticsReport(
        title=TITLE,
        period_from=period.first,
        period_to=period.last,
        timezone=period.zone,
        generated_at=now,
        variant=variant,
        definitions=[
            Definition(indicator=Indicator(key), label=t, smuggling_label=s, definition=d)
            for key, (t, s, d) in DEFINITIONS.items()
        ],
        figures=figures,
        breakdowns=_breakdowns(victims, variant),
        step_durations=_step_durations(durations, variant),
        notes=NOTES + ([PUBLIC_NOTE] if variant is Variant.PUBLIC else []),
    )


def _cell_for(variant: Variant) -> Callable[[int], Cell]:
    return suppressed if variant is Variant.PUBLIC else int


def _in(column: ColumnElement[datetime], period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _indicators(conn: Connection, period: Period) -> dict[CrimeType, Counter[Indicator]]:
    counts: dict[CrimeType, Counter[Indicator]] = {crime: Counter() for crime in CrimeType}
    p = proceedings.c
    investigation_ended = func.coalesce(p.prosecuted_at, p.ended_at)
    grouped: list[tuple[Indicator, ColumnElement[Any], ColumnElement[bool]]] = [
        (
            Indicator.UNDER_INVESTIGATION,
            func.count(),
            and_(
                p.opened_at < period.end,
                or_(investigation_ended.is_(None), investigation_ended >= period.start),
            ),
        ),
        (Indicator.PROSECUTED, func.count(), _in(p.prosecuted_at, period)),
        (
            Indicator.SENTENCES,
            func.count(),
            and_(p.verdict == "condemnatory", _in(p.ended_at, period)),
        ),
        (
            Indicator.CONVICTED,
            func.coalesce(func.sum(p.convicted), 0),
            and_(p.verdict == "condemnatory", _in(p.ended_at, period)),
        ),
    ]
    for indicator, measure, where in grouped:
        query = select(p.crime_type, measure).where(where).group_by(p.crime_type)
        for crime, value in conn.execute(query):
            counts[CrimeType(crime)][indicator] = int(value)
    i = proceeding_imputations.c
    query = (
        select(i.crime_type, func.count()).where(_in(i.imputed_at, period)).group_by(i.crime_type)
    )
    for crime, value in conn.execute(query):
        counts[CrimeType(crime)][Indicator.IMPUTED] = int(value)
    v = identified_victims.c
    query = select(v.outcome, func.count()).where(_in(v.identified_at, period)).group_by(v.outcome)
    by_outcome = {outcome: int(value) for outcome, value in conn.execute(query)}
    for crime, outcome in OUTCOME_OF.items():
        counts[crime][Indicator.VICTIMS] = by_outcome.get(outcome.value, 0)
    return counts


Profile = tuple[str, str | None, str, list[str]]  # sex, age group, nationality, exploitation


def _victims(conn: Connection, period: Period) -> dict[CrimeType, list[Profile]]:
    v = identified_victims.c
    crime_of = {outcome.value: crime for crime, outcome in OUTCOME_OF.items()}
    query = select(v.outcome, v.sex, v.age_group, v.nationality, v.exploitation_types).where(
        _in(v.identified_at, period),
        v.outcome.in_(list(crime_of)),
    )
    found: dict[CrimeType, list[Profile]] = defaultdict(list)
    for outcome, sex, age, nationality, exploitation in conn.execute(query):
        found[crime_of[outcome]].append((sex, age, nationality, list(exploitation or [])))
    return found


def _breakdowns(victims: dict[CrimeType, list[Profile]], variant: Variant) -> list[Breakdown]:
    result = []
    for crime in CrimeType:
        people = victims.get(crime, [])
        dimensions: dict[Dimension, Iterable[str]] = {
            Dimension.SEX: (sex for sex, _, _, _ in people),
            Dimension.AGE_GROUP: (age or UNKNOWN for _, age, _, _ in people),
            Dimension.NATIONALITY: (nationality for _, _, nationality, _ in people),
            Dimension.EXPLOITATION_TYPE: (
                kind for _, _, _, kinds in people for kind in (kinds or [UNKNOWN])
            ),
        }
        for dimension, values in dimensions.items():
            counted = Counter(values)
            ordered = dict(sorted(counted.items(), key=lambda item: (-item[1], item[0])))
            counts = (
                public_cells(ordered, adds_up=dimension in PARTITIONS)
                if variant is Variant.PUBLIC
                else dict(ordered)
            )
            result.append(Breakdown(crime_type=crime, dimension=dimension, counts=counts))
    return result


def _durations(conn: Connection, period: Period) -> dict[tuple[CrimeType, Step], list[float]]:
    # The crime type from the narrow `identified_victims` (a case's, set at opening), not
    # `cases`, whose rows carry the whole state: PostgreSQL then scans less.
    s, c = case_steps.c, identified_victims.c
    query = (
        select(c.crime_type, s.step, s.opened_at, s.updated_at)
        .select_from(case_steps.join(identified_victims, s.case_id == c.case_id))
        .where(s.state == StepState.COMPLETED.value, _in(s.updated_at, period))
    )
    found: dict[tuple[CrimeType, Step], list[float]] = defaultdict(list)
    for crime, step, opened, completed in conn.execute(query):
        days = (completed - opened).total_seconds() / 86400
        found[(CrimeType(crime), Step(step))].append(days)
    return found


def _step_durations(
    durations: dict[tuple[CrimeType, Step], list[float]], variant: Variant
) -> list[StepDuration]:
    result = []
    for crime in CrimeType:
        for step in Step:
            days = durations.get((crime, step), [])
            hidden = variant is Variant.PUBLIC and 0 < len(days) < 5
            median, p90 = (None, None) if hidden else median_and_p90(days)
            completed = suppressed(len(days)) if variant is Variant.PUBLIC else len(days)
            result.append(
                StepDuration(
                    crime_type=crime,
                    step=step,
                    completed=completed,
                    median_days=median,
                    p90_days=p90,
                )
            )
    return result

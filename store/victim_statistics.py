"""The statistics' view of each person a case protects (`identified_victims`).

One row per case: its crime type, the identification's outcome and date, and the
non-identifying profile the report breaks victims down by (sex, age group, nationality,
HTCDS exploitation context). Every column comes from fields the events keep in clear, so
erasing a person changes no row and no statistic. Inline like the visas' and referrals'
projections (`RowProjection`): the report reads it right after a command.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from domain import Event
from domain import events as ev
from domain.vocabulary import Step
from store.row_projection import Row, RowProjection
from store.schema import identified_victims

VICTIM_EVENT_TYPES = frozenset({"CaseOpened", "StepCompleted"})


class VictimStatisticsProjector(RowProjection):
    """`identified_victims`, from each case's opening and identification."""

    table = identified_victims
    key = "case_id"
    event_types = VICTIM_EVENT_TYPES

    def wants(self, event: Event) -> bool:
        data = event.data
        return not isinstance(data, ev.StepCompleted) or data.step is Step.IDENTIFICATION

    def touched(self, event: Event) -> set[UUID]:
        return {event.case_id}

    def creates(self, event: Event) -> set[UUID]:
        return {event.case_id} if isinstance(event.data, ev.CaseOpened) else set()

    def fold(self, rows: dict[UUID, Row], event: Event) -> None:
        data = event.data
        if isinstance(data, ev.CaseOpened):
            rows[event.case_id] = _opened(event, data)
        elif isinstance(data, ev.StepCompleted) and event.case_id in rows:
            row = rows[event.case_id]
            outcome = data.outcome.value if data.outcome else None
            rows[event.case_id] = {**row, "outcome": outcome, "identified_at": event.occurred_at}


def _opened(event: Event, data: ev.CaseOpened) -> Row:
    person, victim = data.person, data.victim
    return {
        "case_id": event.case_id,
        "crime_type": data.crime_type.value,
        "opened_at": event.occurred_at,
        "outcome": None,
        "identified_at": None,
        "sex": person.sex.value,
        "age_group": _code(data.age_group),
        "nationality": person.nationality,
        "exploitation_types": [e.value for e in victim.exploitation_types],
        "means_of_control": [m.value for m in victim.means_of_control],
        "recruiter_relation": _code(victim.recruiter_relation),
        "labour_industry": _code(victim.labour_industry),
        "country_of_exploitation": victim.country_of_exploitation,
        "is_abduction": victim.is_abduction,
    }


def _code(member: StrEnum | None) -> str | None:
    return None if member is None else member.value

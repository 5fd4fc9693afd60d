"""The persons identified in a period, as the anonymised export takes them
(`reports.htcds.VictimRecord`), read from the `identified_victims` projection."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Engine, select

from domain.person import (
    AgeGroup,
    ExploitationType,
    LabourIndustry,
    MeansOfControl,
    RecruiterRelation,
    Sex,
)
from domain.statistics import Period
from domain.vocabulary import CrimeType, IdentificationOutcome
from reports.htcds import VictimRecord
from store.schema import identified_victims

E = TypeVar("E", bound=StrEnum)


def victim_records(engine: Engine, period: Period) -> list[VictimRecord]:
    """Every person whose identification concluded in the period, oldest first."""
    v = identified_victims.c
    query = (
        select(identified_victims)
        .where(v.identified_at >= period.start, v.identified_at < period.end)
        .order_by(v.identified_at, v.case_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        VictimRecord(
            crime_type=CrimeType(row["crime_type"]),
            outcome=IdentificationOutcome(row["outcome"]),
            identified_at=row["identified_at"],
            sex=Sex(row["sex"]),
            age_group=AgeGroup(row["age_group"]) if row["age_group"] else None,
            nationality=row["nationality"],
            exploitation_types=tuple(ExploitationType(e) for e in row["exploitation_types"]),
            means_of_control=tuple(MeansOfControl(m) for m in row["means_of_control"]),
            recruiter_relation=_maybe(RecruiterRelation, row["recruiter_relation"]),
            labour_industry=_maybe(LabourIndustry, row["labour_industry"]),
            country_of_exploitation=row["country_of_exploitation"],
            is_abduction=row["is_abduction"],
        )
        for row in rows
    ]


def _maybe(kind: type[E], value: str | None) -> E | None:
    return None if value is None else kind(value)

"""The statistical report as data: what the JSON is, and what CSV and HTML render.

One model for every format, so they cannot disagree. A cell is a count, or, in the
`public` variant, the string "<5" for a count from 1 to 4 (`SUPPRESSED`), or "*" for a
count withheld because it would give a lone "<5" away (`domain.statistics.public_cells`).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.vocabulary import CrimeType, Step

SUPPRESSED = "<5"
Cell = int | str  # a count, SUPPRESSED, or "*" (withheld)


class Variant(StrEnum):
    FULL = "full"  # every count as it is: for the institutions that produce the report
    PUBLIC = "public"  # small cells suppressed: for publication


class Indicator(StrEnum):
    """The six indicators of the national report, in the seed's order."""

    PROSECUTED = "cases_prosecuted"
    IMPUTED = "imputed_persons"
    UNDER_INVESTIGATION = "cases_under_investigation"
    VICTIMS = "identified_victims"  # "smuggled persons" for smuggling
    SENTENCES = "condemnatory_sentences"
    CONVICTED = "convicted_persons"


class Dimension(StrEnum):
    """What the victims (or smuggled persons) of the period are broken down by."""

    SEX = "sex"
    AGE_GROUP = "age_group"
    NATIONALITY = "nationality"
    EXPLOITATION_TYPE = "exploitation_type"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Definition(_Frozen):
    indicator: Indicator
    label: str  # per crime type, as the seed's table names it
    smuggling_label: str
    definition: str


class CrimeFigures(_Frozen):
    """The six indicators for one crime type."""

    crime_type: CrimeType
    values: dict[Indicator, Cell]


class Breakdown(_Frozen):
    """Victims (trafficking) or smuggled persons (smuggling) of the period by one dimension;
    `counts` in a stable order (most first, then by category), "unknown" where not known."""

    crime_type: CrimeType
    dimension: Dimension
    counts: dict[str, Cell]


class StepDuration(_Frozen):
    """How long a protection step took, over the steps completed in the period (days from
    the step's opening to its completion). In the public variant, fewer than 5 steps give
    no figures."""

    crime_type: CrimeType
    step: Step
    completed: Cell
    median_days: float | None
    p90_days: float | None


class StatisticsReport(_Frozen):
    title: str
    period_from: date  # inclusive, local days in `timezone`
    period_to: date  # inclusive
    timezone: str
    generated_at: datetime
    variant: Variant
    definitions: list[Definition]
    figures: list[CrimeFigures]  # trafficking, then smuggling
    breakdowns: list[Breakdown]
    step_durations: list[StepDuration]
    notes: list[str]  # how to read it: time basis, suppression, what counts where

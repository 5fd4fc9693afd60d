"""The statistical report's rules: what a period is, what each indicator counts, how small
cells are suppressed and how step durations are summarised. Pure; `reports.statistics`
applies them to the projections, and the tests to the raw events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.errors import DomainError

SMALL_CELL = 5  # a public count below this (and above 0) is shown as "<5"
WITHHELD = "*"  # a public count hidden so that a "<5" beside it cannot be worked out


class InvalidPeriod(DomainError):
    """The period's end is before its start, or it is longer than allowed."""

    code = "invalid_period"


@dataclass(frozen=True)
class Period:
    """Whole local days, `first` to `last` inclusive, in `zone` (the country's).

    An event belongs to the period when its `occurred_at` (when it happened, not when it
    was recorded) falls in [start, end): from the first day's local midnight to the local
    midnight after the last day, so 23:59:59 on the last day is in, 00:00 after it is out.
    """

    first: date
    last: date
    zone: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise InvalidPeriod("the period's end is before its start")
        if (self.last - self.first).days > 3660:
            raise InvalidPeriod("a period spans at most ten years")

    @property
    def start(self) -> datetime:
        """The first day's local midnight, in UTC (so differences are real durations)."""
        return datetime.combine(self.first, time(), ZoneInfo(self.zone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: the first moment after the period, in UTC."""
        last = self.last + timedelta(days=1)
        return datetime.combine(last, time(), ZoneInfo(self.zone)).astimezone(UTC)

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


# What each indicator counts, per crime type, as the report states it (its "definitions").
DEFINITIONS: dict[str, tuple[str, str, str]] = {
    # indicator: (trafficking label, smuggling label, definition)
    "cases_prosecuted": (
        "Cases prosecuted",
        "Cases prosecuted",
        "Proceedings whose accusation was filed in the period.",
    ),
    "imputed_persons": (
        "Imputed persons",
        "Imputed persons",
        "Persons imputed in the period, in proceedings of the crime type (a person imputed "
        "in two proceedings counts twice).",
    ),
    "cases_under_investigation": (
        "Cases under investigation",
        "Cases under investigation",
        "Proceedings whose investigation was open at any moment of the period: opened "
        "before the period ended, and not yet ended by an accusation or an archive before "
        "it began. A proceeding accused in the period counts here too.",
    ),
    "identified_victims": (
        "Identified victims",
        "Smuggled persons",
        "Persons whose identification concluded in the period: as victim of trafficking "
        "(trafficking) or as smuggled person (smuggling), whatever the case's crime type "
        "at opening.",
    ),
    "condemnatory_sentences": (
        "Condemnatory sentences",
        "Condemnatory sentences",
        "Proceedings with a condemnatory sentence handed down in the period (acquittals "
        "are not counted).",
    ),
    "convicted_persons": (
        "Convicted persons",
        "Convicted persons",
        "Persons convicted by the condemnatory sentences of the period.",
    ),
}


def investigation_open_in(
    period: Period, opened_at: datetime, investigation_ended_at: datetime | None
) -> bool:
    """Whether an investigation was open at some moment of the period (see DEFINITIONS).

    `investigation_ended_at`: the accusation's moment, or else the archive's (a sentence
    always follows an accusation); None while it is still investigated."""
    return opened_at < period.end and (
        investigation_ended_at is None or investigation_ended_at >= period.start
    )


def suppressed(count: int) -> int | str:
    """A count as the public report shows it: 1 to 4 become "<5" (0 stays: it singles
    no one out)."""
    return f"<{SMALL_CELL}" if 0 < count < SMALL_CELL else count


def public_cells(counts: dict[str, int], *, adds_up: bool) -> dict[str, int | str]:
    """A breakdown as the public report shows it: each count from 1 to 4 as "<5"; and when
    the counts add up to a published total (`adds_up`) and just one was suppressed, the
    smallest other count is withheld too ("*"), or subtracting the rest from the total
    would give the suppressed one away."""
    shown = {category: suppressed(count) for category, count in counts.items()}
    hidden = [c for c, value in shown.items() if isinstance(value, str)]
    visible = [c for c, value in shown.items() if not isinstance(value, str) and value > 0]
    if adds_up and len(hidden) == 1 and visible:
        shown[min(visible, key=lambda c: (counts[c], c))] = WITHHELD
    return shown


def median_and_p90(days: Sequence[float]) -> tuple[float | None, float | None]:
    """The median and the 90th percentile (nearest rank) of durations in days, rounded to
    a tenth of a day; None without any."""
    if not days:
        return None, None
    ordered = sorted(days)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    p90 = ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]
    return round(median, 1), round(p90, 1)

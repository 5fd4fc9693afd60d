"""Reports built by hand for the render tests: the seed's January–June 2017 figures as a
full report, the same report as published (counts 1-4 as "<5"), and a large one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from string import ascii_uppercase

from domain.vocabulary import CrimeType, Step
from reports.model import (
    SUPPRESSED,
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

T, S = CrimeType.TRAFFICKING, CrimeType.SMUGGLING

DEFINITIONS = [
    Definition(
        indicator=Indicator.PROSECUTED,
        label="Cases prosecuted",
        smuggling_label="Cases prosecuted",
        definition="Proceedings whose accusation was filed in the period.",
    ),
    Definition(
        indicator=Indicator.IMPUTED,
        label="Imputed persons",
        smuggling_label="Imputed persons",
        definition="Persons imputed in the period, each counted once.",
    ),
    Definition(
        indicator=Indicator.UNDER_INVESTIGATION,
        label="Cases under investigation",
        smuggling_label="Cases under investigation",
        definition="Proceedings in investigation on the last day of the period.",
    ),
    Definition(
        indicator=Indicator.VICTIMS,
        label="Identified victims",
        smuggling_label="Smuggled persons",
        definition="Persons identified in the period as victims or smuggled persons.",
    ),
    Definition(
        indicator=Indicator.SENTENCES,
        label="Condemnatory sentences",
        smuggling_label="Condemnatory sentences",
        definition="Proceedings sentenced with at least one conviction in the period.",
    ),
    Definition(
        indicator=Indicator.CONVICTED,
        label="Convicted persons",
        smuggling_label="Convicted persons",
        definition="Persons convicted in the period.",
    ),
]

SEED_FIGURES = {
    T: dict(zip(Indicator, (12, 14, 27, 25, 8, 10), strict=True)),
    S: dict(zip(Indicator, (7, 10, 20, 63, 5, 6), strict=True)),
}

BREAKDOWNS: dict[tuple[CrimeType, Dimension], dict[str, int]] = {
    (T, Dimension.SEX): {"female": 21, "male": 3, "unknown": 1},
    (T, Dimension.AGE_GROUP): {"18--20": 9, "9--17": 7, "21--23": 6, "24--26": 3},
    (T, Dimension.NATIONALITY): {"DO": 15, "VE": 6, "CO": 2, "HT": 2},
    (T, Dimension.EXPLOITATION_TYPE): {"sexual_exploitation": 19, "forced_labour": 6},
    (S, Dimension.SEX): {"male": 41, "female": 22},
    (S, Dimension.AGE_GROUP): {},  # nobody: an empty breakdown
    (S, Dimension.NATIONALITY): {"HT": 40, "VE": 12, "CU": 8, "CN": 3},
}

# step: (completed, median days, p90 days); None where no step was completed
DURATIONS: dict[tuple[CrimeType, Step], tuple[int, float | None, float | None]] = {
    (T, Step.IDENTIFICATION): (25, 2.0, 6.5),
    (T, Step.SHELTER): (18, 4.5, 12.25),
    (T, Step.HEALTH): (3, 7.0, 9.0),
    (T, Step.LEGAL): (0, None, None),
    (S, Step.IDENTIFICATION): (63, 1.0, 3.0),
    (S, Step.RETURN_REINTEGRATION): (12, 30.5, 61.0),
}

NOTES = [
    "Counts are of events in the period, by local day in America/Santo_Domingo.",
    "In the public variant, counts from 1 to 4 are shown as <5.",
]


def _public(cell: int) -> Cell:
    return SUPPRESSED if 1 <= cell <= 4 else cell


def report(variant: Variant = Variant.FULL) -> StatisticsReport:
    """The seed's figures with made-up breakdowns and durations, full or public."""
    cell = _public if variant is Variant.PUBLIC else (lambda n: n)
    durations = []
    for (crime, step), (completed, median, p90) in DURATIONS.items():
        hide = variant is Variant.PUBLIC and completed < 5
        durations.append(
            StepDuration(
                crime_type=crime,
                step=step,
                completed=cell(completed),
                median_days=None if hide else median,
                p90_days=None if hide else p90,
            )
        )
    return StatisticsReport(
        title="Statistical report: trafficking in persons and migrant smuggling",
        period_from=date(2017, 1, 1),
        period_to=date(2017, 6, 30),
        timezone="America/Santo_Domingo",
        generated_at=datetime(2017, 11, 27, 14, 30, tzinfo=UTC),
        variant=variant,
        definitions=DEFINITIONS,
        figures=[
            CrimeFigures(crime_type=crime, values={k: cell(v) for k, v in values.items()})
            for crime, values in SEED_FIGURES.items()
        ],
        breakdowns=[
            Breakdown(
                crime_type=crime,
                dimension=dimension,
                counts={k: cell(v) for k, v in counts.items()},
            )
            for (crime, dimension), counts in BREAKDOWNS.items()
        ],
        step_durations=durations,
        notes=NOTES,
    )


def nationality_codes(count: int) -> list[str]:
    """`count` distinct two-letter codes, AA, AB, ... (not all real countries)."""
    return [a + b for a in ascii_uppercase for b in ascii_uppercase][:count]


def many_nationalities(count: int = 200) -> StatisticsReport:
    """The full report with trafficking victims from `count` nationalities (1 to count)."""
    base = report()
    counts: dict[str, Cell] = {code: count - i for i, code in enumerate(nationality_codes(count))}
    large = Breakdown(crime_type=T, dimension=Dimension.NATIONALITY, counts=counts)
    breakdowns = [
        large if (b.crime_type, b.dimension) == (T, Dimension.NATIONALITY) else b
        for b in base.breakdowns
    ]
    return base.model_copy(update={"breakdowns": breakdowns})

"""An anonymised, record-level export in the shape of the CTDC global victim data set.

The Counter Trafficking Data Collaborative publishes one row per identified victim, with
the IOM Human Trafficking Case Data Standard (HTCDS) field names, k-anonymised with k=11.
This module writes Amparo's identified persons in that shape, so tools written for the CTDC
file read ours, and so a national export can be contributed to it.

Columns (`COLUMNS`) are the 63 of the CTDC global data set, in its order. How Amparo's data
fills them:

- yearOfRegistration: the UTC year of `identified_at` (an int; nothing finer is exported).
- Datasource: the `datasource` argument ("Case Management" by default, as CTDC writes it).
- gender: Sex.FEMALE -> "Female", Sex.MALE -> "Male"; OTHER and UNKNOWN -> empty (the
  codebook has no category for them, and a third value would single people out).
- ageBroad: the AgeGroup value, which is already HTCDS ageBroad ("0--8" ... "48+").
- majorityStatus: "Minor" for 0--8 and 9--17, "Adult" otherwise, empty if the age is unknown.
- citizenship: the ISO 3166-1 alpha-2 nationality; CountryOfExploitation likewise, or empty.
- meansOfControl<X>: 1 for each recorded MeansOfControl, 0 for the others. When none is
  recorded the flags are empty (unknown, not "none") and meansOfControlNotSpecified is 1,
  else 0. meansOfControlConcatenated: the recorded means' labels joined by ";".
- is<X> (type of exploitation): 1/0 from the ExploitationType set, all empty when none is
  recorded. isForcedLabour <- FORCED_LABOUR, isSexualExploit <- SEXUAL, isForcedMarriage,
  isForcedMilitary, isOrganRemoval, isSlaveryAndPractices from their namesakes;
  isOtherExploit <- FORCED_CRIMINAL_ACTIVITY, BEGGING or OTHER (HTCDS has no field for the
  first two); isSexAndLabour is 1 when both sexual exploitation and forced labour are
  recorded (isSexualExploit and isForcedLabour stay 1 too: each flag states one fact).
  typeOfExploitConcatenated: the labels of the flags set, except isSexAndLabour, by ";".
- typeOfLabour<X>: the LabourIndustry, when recorded: 1 for it, 0 for Amparo's other
  industries. With forced labour and no industry, typeOfLabourNotSpecified is 1 and the
  rest empty; otherwise (no industry) all empty. typeOfLabourConcatenated: its label.
- isAbduction: 1/0, empty when unknown.
- RecruiterRelationship and recruiterRelation<X>: the RecruiterRelation: its label, 1 for
  it and 0 for the other known relations. RecruiterRelation.UNKNOWN sets
  recruiterRelationUnknown to 1 and leaves the others empty; none recorded, all empty.

Always empty, because Amparo records nothing for them (the codebook leaves a field empty
where the source did not record it): majorityStatusAtExploit and majorityEntry (Amparo
knows the age at identification only), meansOfControlUsesChildren, typeOfLabour
IllicitActivities / MiningOrDrilling / Transportation (no such LabourIndustry), and the
typeOfSex* family (no sex-industry subtype is recorded). They stay in the file so it lines
up column for column with CTDC's. Labels of the categorical and concatenated values follow
the codebook's wording style; the 2020 CTDC release wrote "-99" for unknown, later releases
leave the cell empty, as this export does (None in JSON, "" in CSV).

Who is exported: persons whose identification outcome is CONFIRMED_VICTIM, as CTDC covers
victims of trafficking. `include_smuggled=True` adds SMUGGLED_PERSON outcomes, with an
extra last column, `isSmuggledMigrant` (1/0, not an HTCDS field), so they are never counted
as trafficking victims by mistake; that column is then a quasi-identifier too. NOT_A_VICTIM
is never exported. `crime_type` does not enter the row: the outcome decides.

Anonymisation: k-anonymity over `QUASI_IDENTIFIERS`, the values someone who knows a survivor
could know or find in the press about a rescue: registration year, gender, age (ageBroad,
majorityStatus), citizenship, country of exploitation, and the type of exploitation and
industry (typeOfExploitConcatenated and typeOfLabourConcatenated, which determine every
is<X> and typeOfLabour<X> flag). Means of control, recruiter relation and abduction are the
sensitive attributes the data set exists to publish, so they are not quasi-identifiers.
Every combination of quasi-identifier values in the output occurs in at least k rows.

To keep rows, a row whose group is too small is generalised step by step (`_LADDER`), each
step re-checked against the rows already kept: (1) ageBroad is emptied, majorityStatus
kept; (2) the industry is withheld too; (3) citizenship and CountryOfExploitation are
emptied too. Rows still in a group smaller than k are suppressed (removed) and counted.
Year, gender, majority status and type of exploitation are never generalised: they are what
the statistics are about. A generalised value is empty like an unknown one; `generalised`
counts the rows that lost detail. Limits: k-anonymity does not stop a group of k sharing one
sensitive value (homogeneity), and an empty ageBroad beside a majorityStatus shows the row
was generalised; neither reveals who a row is.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.person import (
    AgeGroup,
    ExploitationType,
    LabourIndustry,
    MeansOfControl,
    RecruiterRelation,
    Sex,
    country_code,
)
from domain.vocabulary import CrimeType, IdentificationOutcome

Value = str | int | None
Row = dict[str, Value]

DEFAULT_K = 11  # CTDC's own threshold for its public global data set
SMUGGLED_COLUMN = "isSmuggledMigrant"

_GENDER = {Sex.FEMALE: "Female", Sex.MALE: "Male"}

# CTDC column suffix -> the Amparo value behind it (None: Amparo has no such category).
_MEANS: tuple[tuple[str, MeansOfControl | None], ...] = (
    ("DebtBondage", MeansOfControl.DEBT_BONDAGE),
    ("TakesEarnings", MeansOfControl.TAKES_EARNINGS),
    ("RestrictsFinancialAccess", MeansOfControl.RESTRICTS_FINANCIAL_ACCESS),
    ("Threats", MeansOfControl.THREATS),
    ("PsychologicalAbuse", MeansOfControl.PSYCHOLOGICAL_ABUSE),
    ("PhysicalAbuse", MeansOfControl.PHYSICAL_ABUSE),
    ("SexualAbuse", MeansOfControl.SEXUAL_ABUSE),
    ("FalsePromises", MeansOfControl.FALSE_PROMISES),
    ("PsychoactiveSubstances", MeansOfControl.PSYCHOACTIVE_SUBSTANCES),
    ("RestrictsMovement", MeansOfControl.RESTRICTS_MOVEMENT),
    ("RestrictsMedicalCare", MeansOfControl.RESTRICTS_MEDICAL_CARE),
    ("ExcessiveWorkingHours", MeansOfControl.EXCESSIVE_WORKING_HOURS),
    ("UsesChildren", None),
    ("ThreatOfLawEnforcement", MeansOfControl.THREAT_OF_LAW_ENFORCEMENT),
    ("WithholdsNecessities", MeansOfControl.WITHHOLDS_NECESSITIES),
    ("WithholdsDocuments", MeansOfControl.WITHHOLDS_DOCUMENTS),
    ("Other", MeansOfControl.OTHER),
)

# CTDC flag -> (the Amparo types that set it, its label in typeOfExploitConcatenated).
_EXPLOIT: tuple[tuple[str, frozenset[ExploitationType], str], ...] = (
    ("isForcedLabour", frozenset({ExploitationType.FORCED_LABOUR}), "Forced labour"),
    ("isSexualExploit", frozenset({ExploitationType.SEXUAL}), "Sexual exploitation"),
    (
        "isOtherExploit",
        frozenset(
            {
                ExploitationType.FORCED_CRIMINAL_ACTIVITY,
                ExploitationType.BEGGING,
                ExploitationType.OTHER,
            }
        ),
        "Other",
    ),
    ("isSexAndLabour", frozenset(), ""),  # both of the first two; computed, not listed
    ("isForcedMarriage", frozenset({ExploitationType.FORCED_MARRIAGE}), "Forced marriage"),
    ("isForcedMilitary", frozenset({ExploitationType.FORCED_MILITARY}), "Forced military"),
    ("isOrganRemoval", frozenset({ExploitationType.ORGAN_REMOVAL}), "Organ removal"),
    (
        "isSlaveryAndPractices",
        frozenset({ExploitationType.SLAVERY_AND_PRACTICES}),
        "Slavery and similar practices",
    ),
)

_LABOUR: tuple[tuple[str, LabourIndustry | None], ...] = (
    ("Agriculture", LabourIndustry.AGRICULTURE),
    ("Aquafarming", LabourIndustry.AQUAFARMING),
    ("Begging", LabourIndustry.BEGGING),
    ("Construction", LabourIndustry.CONSTRUCTION),
    ("DomesticWork", LabourIndustry.DOMESTIC_WORK),
    ("Hospitality", LabourIndustry.HOSPITALITY),
    ("IllicitActivities", None),
    ("Manufacturing", LabourIndustry.MANUFACTURING),
    ("MiningOrDrilling", None),
    ("Peddling", LabourIndustry.PEDDLING),
    ("Transportation", None),
    ("Other", LabourIndustry.OTHER),
)

_SEX_TYPES = ("Prostitution", "Pornography", "RemoteInteractiveServices", "PrivateSexualServices")

_RECRUITER: tuple[tuple[str, RecruiterRelation, str], ...] = (
    ("IntimatePartner", RecruiterRelation.INTIMATE_PARTNER, "Intimate partner"),
    ("Friend", RecruiterRelation.FRIEND, "Friend"),
    ("Family", RecruiterRelation.FAMILY, "Family"),
    ("Other", RecruiterRelation.OTHER, "Other"),
    ("Unknown", RecruiterRelation.UNKNOWN, "Unknown"),
)

COLUMNS: tuple[str, ...] = (
    "yearOfRegistration",
    "Datasource",
    "gender",
    "ageBroad",
    "majorityStatus",
    "majorityStatusAtExploit",
    "majorityEntry",
    "citizenship",
    *(f"meansOfControl{name}" for name, _ in _MEANS),
    "meansOfControlNotSpecified",
    "meansOfControlConcatenated",
    *(flag for flag, _, _ in _EXPLOIT),
    "typeOfExploitConcatenated",
    *(f"typeOfLabour{name}" for name, _ in _LABOUR),
    "typeOfLabourNotSpecified",
    "typeOfLabourConcatenated",
    *(f"typeOfSex{name}" for name in _SEX_TYPES),
    "typeOfSexConcatenated",
    "isAbduction",
    "RecruiterRelationship",
    "CountryOfExploitation",
    *(f"recruiterRelation{name}" for name, _, _ in _RECRUITER),
)

QUASI_IDENTIFIERS: tuple[str, ...] = (
    "yearOfRegistration",
    "gender",
    "ageBroad",
    "majorityStatus",
    "citizenship",
    "CountryOfExploitation",
    "typeOfExploitConcatenated",
    "typeOfLabourConcatenated",
)


@dataclass(frozen=True)
class VictimRecord:
    """One identified person, as the statistics projection holds it: no id, no name."""

    crime_type: CrimeType
    outcome: IdentificationOutcome
    identified_at: datetime  # aware; only its UTC year is exported
    sex: Sex
    age_group: AgeGroup | None
    nationality: str  # ISO 3166-1 alpha-2
    exploitation_types: tuple[ExploitationType, ...] = ()
    means_of_control: tuple[MeansOfControl, ...] = ()
    recruiter_relation: RecruiterRelation | None = None
    labour_industry: LabourIndustry | None = None
    country_of_exploitation: str | None = None
    is_abduction: bool | None = None

    def __post_init__(self) -> None:
        if self.identified_at.utcoffset() is None:
            raise ValueError("identified_at must be timezone-aware")
        for code in (self.nationality, self.country_of_exploitation):
            if code is not None and country_code(code) != code:
                raise ValueError(f"not an upper-case ISO 3166-1 alpha-2 code: {code!r}")


@dataclass(frozen=True)
class HtcdsExport:
    """The rows that survived anonymisation, and what was done to get them."""

    rows: list[Row]  # each keyed by `columns`, in that order; sorted
    suppressed: int  # eligible persons left out: their group stayed smaller than k
    generalised: int  # rows kept with less detail than recorded
    k: int
    quasi_identifiers: tuple[str, ...]
    columns: tuple[str, ...] = COLUMNS  # COLUMNS, plus SMUGGLED_COLUMN with include_smuggled


@dataclass(frozen=True)
class _Detail:
    """What a row keeps; each rung of `_LADDER` keeps less."""

    age: bool = True  # ageBroad (majorityStatus is always kept)
    labour: bool = True  # the industry
    places: bool = True  # citizenship and CountryOfExploitation


_LADDER = (
    _Detail(),
    _Detail(age=False),
    _Detail(age=False, labour=False),
    _Detail(age=False, labour=False, places=False),
)


def _flag(value: bool) -> int:
    return 1 if value else 0


def _label(member: MeansOfControl | LabourIndustry) -> str:
    return member.value.replace("_", " ").capitalize()


def _row(record: VictimRecord, detail: _Detail, datasource: str, smuggled: bool) -> Row:
    row: Row = dict.fromkeys(COLUMNS)
    row["yearOfRegistration"] = record.identified_at.astimezone(UTC).year
    row["Datasource"] = datasource
    row["gender"] = _GENDER.get(record.sex)
    if record.age_group is not None:
        row["ageBroad"] = record.age_group.value if detail.age else None
        row["majorityStatus"] = "Minor" if record.age_group.minor else "Adult"
    if detail.places:
        row["citizenship"] = record.nationality
        row["CountryOfExploitation"] = record.country_of_exploitation

    means = set(record.means_of_control)
    row["meansOfControlNotSpecified"] = _flag(not means)
    if means:
        for name, member in _MEANS:
            if member is not None:
                row[f"meansOfControl{name}"] = _flag(member in means)
        row["meansOfControlConcatenated"] = ";".join(
            _label(m) for _, m in _MEANS if m is not None and m in means
        )

    types = set(record.exploitation_types)
    if types:
        for flag, members, _ in _EXPLOIT:
            row[flag] = _flag(bool(types & members))
        row["isSexAndLabour"] = _flag(
            ExploitationType.SEXUAL in types and ExploitationType.FORCED_LABOUR in types
        )
        row["typeOfExploitConcatenated"] = ";".join(
            label for flag, _, label in _EXPLOIT if label and row[flag] == 1
        )

    industry = record.labour_industry if detail.labour else None
    if industry is not None:
        for name, kind in _LABOUR:
            if kind is not None:
                row[f"typeOfLabour{name}"] = _flag(kind is industry)
        row["typeOfLabourNotSpecified"] = 0
        row["typeOfLabourConcatenated"] = _label(industry)
    elif ExploitationType.FORCED_LABOUR in types:
        row["typeOfLabourNotSpecified"] = 1

    if record.is_abduction is not None:
        row["isAbduction"] = _flag(record.is_abduction)
    relation = record.recruiter_relation
    if relation is not None:
        for name, known, label in _RECRUITER:
            if known is relation:
                row["RecruiterRelationship"] = label
            if known is relation or relation is not RecruiterRelation.UNKNOWN:
                row[f"recruiterRelation{name}"] = _flag(known is relation)

    if smuggled:
        row[SMUGGLED_COLUMN] = _flag(record.outcome is IdentificationOutcome.SMUGGLED_PERSON)
    return row


def _key(row: Row, columns: tuple[str, ...]) -> tuple[Value, ...]:
    return tuple(row[c] for c in columns)


def _order(row: Row) -> tuple[tuple[bool, str], ...]:
    """Total, stable order: same persons in any order give the same file."""
    return tuple((value is None, str(value)) for value in row.values())


def export_rows(
    records: Iterable[VictimRecord],
    *,
    k: int = DEFAULT_K,
    datasource: str = "Case Management",
    include_smuggled: bool = False,
) -> HtcdsExport:
    """The CTDC-shaped rows of the eligible persons, k-anonymous over the quasi-identifiers.

    Each rung of `_LADDER` is tried on the rows still failing; a row is kept once its
    group, counted with the rows already kept, has at least k rows. Kept groups only grow,
    so the guarantee holds for the final output; what never reaches k is suppressed."""
    if k < 1:
        raise ValueError("k must be at least 1")
    outcomes = {IdentificationOutcome.CONFIRMED_VICTIM}
    if include_smuggled:
        outcomes.add(IdentificationOutcome.SMUGGLED_PERSON)
    quasi = QUASI_IDENTIFIERS + ((SMUGGLED_COLUMN,) if include_smuggled else ())
    columns = COLUMNS + ((SMUGGLED_COLUMN,) if include_smuggled else ())

    # (record, its row with every detail): the rows not yet kept
    pending = [
        (r, _row(r, _LADDER[0], datasource, include_smuggled))
        for r in records
        if r.outcome in outcomes
    ]
    kept: list[Row] = []
    generalised = 0
    for detail in _LADDER:
        rows = [(r, exact, _row(r, detail, datasource, include_smuggled)) for r, exact in pending]
        sizes = Counter(_key(row, quasi) for row in kept)
        sizes.update(_key(row, quasi) for _, _, row in rows)
        pending = []
        for record, exact, row in rows:
            if sizes[_key(row, quasi)] >= k:
                kept.append(row)
                generalised += row != exact
            else:
                pending.append((record, exact))
        if not pending:
            break
    kept.sort(key=_order)
    return HtcdsExport(
        rows=kept,
        suppressed=len(pending),
        generalised=generalised,
        k=k,
        quasi_identifiers=quasi,
        columns=columns,
    )


def to_csv(export: HtcdsExport) -> str:
    """The rows under a header of the export's columns; an empty cell is unknown."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=export.columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export.rows)
    return out.getvalue()


def to_json(export: HtcdsExport) -> str:
    """The rows with how they were anonymised, so a reader knows what is missing and why."""
    return json.dumps(
        {
            "k": export.k,
            "quasi_identifiers": list(export.quasi_identifiers),
            "suppressed": export.suppressed,
            "generalised": export.generalised,
            "rows": export.rows,
        },
        ensure_ascii=False,
    )

"""The CTDC-shaped export: k-anonymous whatever the input, faithful to what was recorded,
and the same rows in CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.person import (
    AgeGroup,
    ExploitationType,
    LabourIndustry,
    MeansOfControl,
    RecruiterRelation,
    Sex,
)
from domain.vocabulary import CrimeType, IdentificationOutcome
from reports.htcds import (
    COLUMNS,
    QUASI_IDENTIFIERS,
    SMUGGLED_COLUMN,
    HtcdsExport,
    VictimRecord,
    export_rows,
    to_csv,
    to_json,
)

CONFIRMED = IdentificationOutcome.CONFIRMED_VICTIM
SMUGGLED = IdentificationOutcome.SMUGGLED_PERSON
NATIONALITIES = ("BO", "PY", "PE", "CO")
EXPLOITATION_COUNTRIES = ("AR", "CL")
NEVER_FILLED = (
    "majorityStatusAtExploit",
    "majorityEntry",
    "meansOfControlUsesChildren",
    "typeOfLabourIllicitActivities",
    "typeOfLabourMiningOrDrilling",
    "typeOfLabourTransportation",
    "typeOfSexProstitution",
    "typeOfSexPornography",
    "typeOfSexRemoteInteractiveServices",
    "typeOfSexPrivateSexualServices",
    "typeOfSexConcatenated",
)


def person(**changes: Any) -> VictimRecord:
    base = VictimRecord(
        crime_type=CrimeType.TRAFFICKING,
        outcome=CONFIRMED,
        identified_at=datetime(2024, 5, 10, 12, tzinfo=UTC),
        sex=Sex.FEMALE,
        age_group=AgeGroup.AGE_18_20,
        nationality="BO",
        exploitation_types=(ExploitationType.SEXUAL,),
        country_of_exploitation="AR",
    )
    return replace(base, **changes)


def only(**changes: Any) -> dict[str, Any]:
    """The one row of a single person, exported with k=1."""
    (row,) = export_rows([person(**changes)], k=1).rows
    return row


def qi_groups(export: HtcdsExport) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(row[c] for c in export.quasi_identifiers) for row in export.rows)


# --- what every export guarantees, over random persons ----------------------------------

_zones = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))])
records = st.builds(
    VictimRecord,
    crime_type=st.sampled_from(CrimeType),
    outcome=st.sampled_from(IdentificationOutcome),
    identified_at=st.datetimes(datetime(2022, 12, 30), datetime(2025, 1, 2), timezones=_zones),
    sex=st.sampled_from(Sex),
    age_group=st.none() | st.sampled_from(AgeGroup),
    nationality=st.sampled_from(NATIONALITIES),
    exploitation_types=st.lists(st.sampled_from(ExploitationType), max_size=3, unique=True).map(
        tuple
    ),
    means_of_control=st.lists(st.sampled_from(MeansOfControl), max_size=4, unique=True).map(tuple),
    recruiter_relation=st.none() | st.sampled_from(RecruiterRelation),
    labour_industry=st.none() | st.sampled_from(LabourIndustry),
    country_of_exploitation=st.none() | st.sampled_from(EXPLOITATION_COUNTRIES),
    is_abduction=st.none() | st.booleans(),
)


@st.composite
def populations(draw: st.DrawFn) -> list[VictimRecord]:
    """One big group (same quasi-identifiers, varied sensitive fields), several tiny ones,
    and scattered singletons, shuffled."""
    big = replace(draw(records), outcome=CONFIRMED)
    people = [
        replace(
            big,
            means_of_control=tuple(
                draw(st.lists(st.sampled_from(MeansOfControl), max_size=2, unique=True))
            ),
            recruiter_relation=draw(st.none() | st.sampled_from(RecruiterRelation)),
            is_abduction=draw(st.none() | st.booleans()),
        )
        for _ in range(draw(st.integers(0, 40)))
    ]
    for template in draw(st.lists(records, max_size=8)):
        people += [template] * draw(st.integers(1, 12))
    people += draw(st.lists(records, max_size=40))
    return draw(st.permutations(people))


def vocabulary() -> dict[str, set[Any]]:
    """Every value a column may hold (None aside): codes and labels, never free text."""
    flags = {0, 1}
    countries = set(NATIONALITIES) | set(EXPLOITATION_COUNTRIES)
    means = {m.value.replace("_", " ").capitalize() for m in MeansOfControl}
    labour = {i.value.replace("_", " ").capitalize() for i in LabourIndustry}
    exploits = {
        "Forced labour",
        "Sexual exploitation",
        "Other",
        "Forced marriage",
        "Forced military",
        "Organ removal",
        "Slavery and similar practices",
    }
    allowed: dict[str, set[Any]] = dict.fromkeys((*COLUMNS, SMUGGLED_COLUMN), flags)
    allowed |= {
        "Datasource": {"Case Management"},
        "gender": {"Female", "Male"},
        "ageBroad": {g.value for g in AgeGroup},
        "majorityStatus": {"Adult", "Minor"},
        "citizenship": countries,
        "CountryOfExploitation": countries,
        "meansOfControlConcatenated": means,
        "typeOfExploitConcatenated": exploits,
        "typeOfLabourConcatenated": labour,
        "RecruiterRelationship": {"Intimate partner", "Friend", "Family", "Other", "Unknown"},
    }
    return allowed


ALLOWED = vocabulary()
# what generalisation may empty; every other column is exported as recorded
GENERALISABLE = {
    "ageBroad",
    "citizenship",
    "CountryOfExploitation",
    *(c for c in COLUMNS if c.startswith("typeOfLabour")),
}
CONCATENATED = {c for c in COLUMNS if c.endswith("Concatenated")}
DATE_LIKE = re.compile(r"\d{4}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|\d{1,2}:\d{2}")


def in_file_order(row: dict[str, Any]) -> list[tuple[bool, str]]:
    return [(value is None, str(value)) for value in row.values()]


def assert_csv_matches_json(export: HtcdsExport) -> None:
    document = json.loads(to_json(export))
    assert document["k"] == export.k
    assert document["suppressed"] == export.suppressed
    assert tuple(document["quasi_identifiers"]) == export.quasi_identifiers
    reader = csv.DictReader(io.StringIO(to_csv(export)))
    assert tuple(reader.fieldnames or ()) == export.columns
    as_text = [{c: "" if v is None else str(v) for c, v in row.items()} for row in document["rows"]]
    assert list(reader) == as_text
    assert [list(row) for row in document["rows"]] == [list(export.columns)] * len(as_text)


@settings(max_examples=150, deadline=None, database=None)
@given(people=populations(), k=st.integers(1, 12), include_smuggled=st.booleans())
def test_every_export_is_k_anonymous_and_accounts_for_everyone(
    people: list[VictimRecord], k: int, include_smuggled: bool
) -> None:
    export = export_rows(people, k=k, include_smuggled=include_smuggled)
    outcomes = {CONFIRMED, SMUGGLED} if include_smuggled else {CONFIRMED}
    eligible = [p for p in people if p.outcome in outcomes]

    # k-anonymity over the quasi-identifiers, and nobody lost without being counted
    assert all(size >= k for size in qi_groups(export).values())
    assert export.suppressed + len(export.rows) == len(eligible)
    assert 0 <= export.generalised <= len(export.rows)
    assert set(QUASI_IDENTIFIERS) <= set(export.quasi_identifiers)
    assert (SMUGGLED_COLUMN in export.quasi_identifiers) == include_smuggled

    # no ids, names or dates: years as ints, every other value a code, label or flag
    years = {p.identified_at.astimezone(UTC).year for p in eligible}
    for row in export.rows:
        assert tuple(row) == export.columns
        assert type(row["yearOfRegistration"]) is int
        assert row["yearOfRegistration"] in years
        for column, value in row.items():
            if column == "yearOfRegistration" or value is None:
                continue
            assert not DATE_LIKE.search(str(value)), (column, value)
            parts = str(value).split(";") if column in CONCATENATED else [value]
            assert all(part in ALLOWED[column] for part in parts), (column, value)
        assert all(row[c] is None for c in NEVER_FILLED)

    # nothing invented: the columns never generalised match the persons exported
    fixed = [c for c in export.columns if c not in GENERALISABLE]
    everyone = export_rows(people, k=1, include_smuggled=include_smuggled)
    out = Counter(tuple(r[c] for c in fixed) for r in export.rows)
    assert not out - Counter(tuple(r[c] for c in fixed) for r in everyone.rows)

    # deterministic whatever the input order, and the same rows in both formats
    assert export_rows(people[::-1], k=k, include_smuggled=include_smuggled) == export
    assert export.rows == sorted(
        export.rows, key=lambda r: [(v is None, str(v)) for v in r.values()]
    )
    assert_csv_matches_json(export)


@settings(max_examples=100, deadline=None, database=None)
@given(people=populations(), include_smuggled=st.booleans())
def test_k_one_keeps_everyone_as_recorded(
    people: list[VictimRecord], include_smuggled: bool
) -> None:
    export = export_rows(people, k=1, include_smuggled=include_smuggled)
    outcomes = {CONFIRMED, SMUGGLED} if include_smuggled else {CONFIRMED}
    assert len(export.rows) == sum(p.outcome in outcomes for p in people)
    assert export.suppressed == 0
    assert export.generalised == 0


# --- a hand-made population: exactly the expected rows survive --------------------------


def hand_made() -> list[VictimRecord]:
    minus_five = timezone(timedelta(hours=-5))
    labour = {
        "sex": Sex.MALE,
        "age_group": AgeGroup.AGE_30_38,
        "nationality": "PY",
        "exploitation_types": (ExploitationType.FORCED_LABOUR,),
    }
    return [
        # A: three alike, one of them identified on 31 Dec 2023 at -05:00 (2024 in UTC)
        person(means_of_control=(MeansOfControl.THREATS,)),
        person(recruiter_relation=RecruiterRelation.FAMILY),
        person(identified_at=datetime(2023, 12, 31, 23, 30, tzinfo=minus_five)),
        # B, B, C: alone by age group, together as adults
        person(age_group=AgeGroup.AGE_21_23),
        person(age_group=AgeGroup.AGE_21_23),
        person(age_group=AgeGroup.AGE_24_26),
        # G: three labour cases, together once the industry is withheld
        person(**labour, labour_industry=LabourIndustry.AGRICULTURE),
        person(**labour, labour_industry=LabourIndustry.CONSTRUCTION),
        person(**labour, labour_industry=LabourIndustry.DOMESTIC_WORK),
        # E, E, F: together once nationality and country of exploitation are withheld
        person(nationality="PE"),
        person(nationality="PE"),
        person(nationality="CO", age_group=AgeGroup.AGE_30_38, country_of_exploitation="CL"),
        # D: a boy alone whatever is withheld
        person(
            sex=Sex.MALE,
            age_group=AgeGroup.AGE_9_17,
            nationality="PY",
            exploitation_types=(ExploitationType.FORCED_LABOUR,),
        ),
        # never exported by default
        *[person(outcome=IdentificationOutcome.NOT_A_VICTIM)] * 5,
        *[person(outcome=SMUGGLED, crime_type=CrimeType.SMUGGLING)] * 3,
    ]


def shape(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row[c]
        for c in (
            "gender",
            "ageBroad",
            "majorityStatus",
            "citizenship",
            "CountryOfExploitation",
            "typeOfExploitConcatenated",
            "typeOfLabourConcatenated",
        )
    )


def test_exactly_the_expected_rows_survive() -> None:
    export = export_rows(hand_made(), k=3)
    sexual = "Sexual exploitation"
    assert Counter(shape(r) for r in export.rows) == {
        ("Female", "18--20", "Adult", "BO", "AR", sexual, None): 3,  # A, as recorded
        ("Female", None, "Adult", "BO", "AR", sexual, None): 3,  # B, B, C
        ("Male", None, "Adult", "PY", "AR", "Forced labour", None): 3,  # G
        ("Female", None, "Adult", None, None, sexual, None): 3,  # E, E, F
    }
    assert export.suppressed == 1  # D
    assert export.generalised == 9
    assert {r["yearOfRegistration"] for r in export.rows} == {2024}
    assert all(r["typeOfLabourNotSpecified"] == 1 for r in export.rows if r["isForcedLabour"])
    assert export.quasi_identifiers == QUASI_IDENTIFIERS
    assert export.columns == COLUMNS


def test_smuggled_persons_are_exported_only_on_request_and_marked() -> None:
    export = export_rows(hand_made(), k=3, include_smuggled=True)
    marked = Counter(r[SMUGGLED_COLUMN] for r in export.rows)
    assert marked == {0: 12, 1: 3}
    assert export.suppressed == 1
    assert export.columns == (*COLUMNS, SMUGGLED_COLUMN)
    assert export.quasi_identifiers == (*QUASI_IDENTIFIERS, SMUGGLED_COLUMN)
    assert_csv_matches_json(export)


def test_csv_and_json_carry_the_same_rows() -> None:
    export = export_rows(hand_made(), k=3)
    assert_csv_matches_json(export)
    document = json.loads(to_json(export))
    assert document["generalised"] == 9
    assert to_csv(export).splitlines()[0] == ",".join(COLUMNS)


def test_too_few_for_any_group_leaves_an_empty_file() -> None:
    export = export_rows(hand_made(), k=11)
    assert export.rows == []
    assert export.suppressed == 13
    assert to_csv(export) == ",".join(COLUMNS) + "\n"


# --- the field mapping -------------------------------------------------------------------


def test_sexual_exploitation_alone() -> None:
    row = only()
    assert row["isSexualExploit"] == 1
    assert row["isForcedLabour"] == row["isSexAndLabour"] == row["isOtherExploit"] == 0
    assert row["typeOfExploitConcatenated"] == "Sexual exploitation"
    assert row["typeOfLabourNotSpecified"] is None


def test_sexual_exploitation_and_forced_labour() -> None:
    row = only(exploitation_types=(ExploitationType.SEXUAL, ExploitationType.FORCED_LABOUR))
    assert row["isSexAndLabour"] == row["isSexualExploit"] == row["isForcedLabour"] == 1
    assert row["typeOfExploitConcatenated"] == "Forced labour;Sexual exploitation"
    assert row["typeOfLabourNotSpecified"] == 1
    assert row["typeOfLabourAgriculture"] is None


@pytest.mark.parametrize(
    ("kind", "flag"),
    [
        (ExploitationType.BEGGING, "isOtherExploit"),
        (ExploitationType.FORCED_CRIMINAL_ACTIVITY, "isOtherExploit"),
        (ExploitationType.OTHER, "isOtherExploit"),
        (ExploitationType.FORCED_MARRIAGE, "isForcedMarriage"),
        (ExploitationType.FORCED_MILITARY, "isForcedMilitary"),
        (ExploitationType.ORGAN_REMOVAL, "isOrganRemoval"),
        (ExploitationType.SLAVERY_AND_PRACTICES, "isSlaveryAndPractices"),
    ],
)
def test_each_exploitation_type_sets_its_flag(kind: ExploitationType, flag: str) -> None:
    row = only(exploitation_types=(kind,))
    flags = ["isForcedLabour", "isSexualExploit", "isOtherExploit", "isSexAndLabour"]
    flags += ["isForcedMarriage", "isForcedMilitary", "isOrganRemoval", "isSlaveryAndPractices"]
    assert {f: row[f] for f in flags} == {f: int(f == flag) for f in flags}


def test_unknown_exploitation_is_empty_not_zero() -> None:
    row = only(exploitation_types=())
    assert row["isSexualExploit"] is row["isForcedLabour"] is None
    assert row["typeOfExploitConcatenated"] is None


def test_labour_industry() -> None:
    row = only(
        exploitation_types=(ExploitationType.FORCED_LABOUR,),
        labour_industry=LabourIndustry.DOMESTIC_WORK,
    )
    assert row["typeOfLabourDomesticWork"] == 1
    assert row["typeOfLabourAgriculture"] == row["typeOfLabourNotSpecified"] == 0
    assert row["typeOfLabourIllicitActivities"] is None  # Amparo has no such industry
    assert row["typeOfLabourConcatenated"] == "Domestic work"


def test_means_of_control() -> None:
    row = only(means_of_control=(MeansOfControl.THREATS, MeansOfControl.DEBT_BONDAGE))
    assert row["meansOfControlDebtBondage"] == row["meansOfControlThreats"] == 1
    assert row["meansOfControlPhysicalAbuse"] == row["meansOfControlNotSpecified"] == 0
    assert row["meansOfControlUsesChildren"] is None
    assert row["meansOfControlConcatenated"] == "Debt bondage;Threats"  # the codebook's order
    unknown = only(means_of_control=())
    assert unknown["meansOfControlNotSpecified"] == 1
    assert unknown["meansOfControlDebtBondage"] is unknown["meansOfControlConcatenated"] is None


def test_recruiter_relation() -> None:
    family = only(recruiter_relation=RecruiterRelation.FAMILY)
    assert family["RecruiterRelationship"] == "Family"
    assert family["recruiterRelationFamily"] == 1
    assert family["recruiterRelationFriend"] == family["recruiterRelationUnknown"] == 0
    unknown = only(recruiter_relation=RecruiterRelation.UNKNOWN)
    assert unknown["recruiterRelationUnknown"] == 1
    assert unknown["recruiterRelationFamily"] is None
    assert only()["RecruiterRelationship"] is only()["recruiterRelationFamily"] is None


def test_person_fields() -> None:
    row = only(is_abduction=True)
    assert (row["yearOfRegistration"], row["Datasource"]) == (2024, "Case Management")
    assert (row["gender"], row["ageBroad"], row["majorityStatus"]) == ("Female", "18--20", "Adult")
    assert (row["citizenship"], row["CountryOfExploitation"]) == ("BO", "AR")
    assert row["isAbduction"] == 1
    assert only(is_abduction=False)["isAbduction"] == 0
    assert only()["isAbduction"] is None
    assert only(age_group=AgeGroup.AGE_9_17)["majorityStatus"] == "Minor"
    unknown_age = only(age_group=None)
    assert unknown_age["ageBroad"] is unknown_age["majorityStatus"] is None
    assert only(sex=Sex.MALE)["gender"] == "Male"
    assert only(sex=Sex.OTHER)["gender"] is only(sex=Sex.UNKNOWN)["gender"] is None
    assert only(country_of_exploitation=None)["CountryOfExploitation"] is None
    assert all(row[c] is None for c in NEVER_FILLED)
    (hotline,) = export_rows([person()], k=1, datasource="Hotline").rows
    assert hotline["Datasource"] == "Hotline"


def test_invalid_input_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        person(identified_at=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="alpha-2"):
        person(nationality="bo")
    with pytest.raises(ValueError, match="alpha-2"):
        person(country_of_exploitation="ARG")
    with pytest.raises(ValueError, match="at least 1"):
        export_rows([], k=0)

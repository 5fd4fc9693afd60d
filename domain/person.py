"""The person and the victim context, named after the IOM Human Trafficking Case Data Standard.

HTCDS 2.0 / CTDC field families used here: gender, citizenship, type of exploitation,
means of control, recruiter relationship and type of labour. Names follow CONTRACT.md.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.personal import PersonalDate, PersonalText

_COUNTRY = re.compile(r"^[A-Z]{2}$")


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class ExploitationType(StrEnum):
    """HTCDS `typeOfExploit*`."""

    SEXUAL = "sexual_exploitation"
    FORCED_LABOUR = "forced_labour"
    FORCED_MARRIAGE = "forced_marriage"
    SLAVERY_AND_PRACTICES = "slavery_and_practices"
    FORCED_CRIMINAL_ACTIVITY = "forced_criminal_activity"
    BEGGING = "begging"
    ORGAN_REMOVAL = "organ_removal"
    FORCED_MILITARY = "forced_military"
    OTHER = "other"


class MeansOfControl(StrEnum):
    """HTCDS `meansOfControl*`."""

    DEBT_BONDAGE = "debt_bondage"
    TAKES_EARNINGS = "takes_earnings"
    RESTRICTS_FINANCIAL_ACCESS = "restricts_financial_access"
    THREATS = "threats"
    PSYCHOLOGICAL_ABUSE = "psychological_abuse"
    PHYSICAL_ABUSE = "physical_abuse"
    SEXUAL_ABUSE = "sexual_abuse"
    FALSE_PROMISES = "false_promises"
    PSYCHOACTIVE_SUBSTANCES = "psychoactive_substances"
    RESTRICTS_MOVEMENT = "restricts_movement"
    RESTRICTS_MEDICAL_CARE = "restricts_medical_care"
    EXCESSIVE_WORKING_HOURS = "excessive_working_hours"
    THREAT_OF_LAW_ENFORCEMENT = "threat_of_law_enforcement"
    WITHHOLDS_NECESSITIES = "withholds_necessities"
    WITHHOLDS_DOCUMENTS = "withholds_documents"
    OTHER = "other"


class RecruiterRelation(StrEnum):
    """HTCDS `recruiterRelation*`."""

    INTIMATE_PARTNER = "intimate_partner"
    FRIEND = "friend"
    FAMILY = "family"
    OTHER = "other"
    UNKNOWN = "unknown"


class LabourIndustry(StrEnum):
    """HTCDS `typeOfLabour*`."""

    AGRICULTURE = "agriculture"
    AQUAFARMING = "aquafarming"
    BEGGING = "begging"
    CONSTRUCTION = "construction"
    DOMESTIC_WORK = "domestic_work"
    HOSPITALITY = "hospitality"
    MANUFACTURING = "manufacturing"
    PEDDLING = "peddling"
    OTHER = "other"


class AgeGroup(StrEnum):
    """HTCDS `ageBroad`: the age at identification, coarse enough to publish."""

    AGE_0_8 = "0--8"
    AGE_9_17 = "9--17"
    AGE_18_20 = "18--20"
    AGE_21_23 = "21--23"
    AGE_24_26 = "24--26"
    AGE_27_29 = "27--29"
    AGE_30_38 = "30--38"
    AGE_39_47 = "39--47"
    AGE_48_PLUS = "48+"

    @property
    def minor(self) -> bool:
        return self in (AgeGroup.AGE_0_8, AgeGroup.AGE_9_17)


_AGE_BOUNDS = ((9, AgeGroup.AGE_0_8), (18, AgeGroup.AGE_9_17), (21, AgeGroup.AGE_18_20),
               (24, AgeGroup.AGE_21_23), (27, AgeGroup.AGE_24_26), (30, AgeGroup.AGE_27_29),
               (39, AgeGroup.AGE_30_38), (48, AgeGroup.AGE_39_47))  # fmt: skip


def age_group(birth_date: date | None, on: date) -> AgeGroup | None:
    """The age group of someone born on `birth_date`, on the day `on` (None if unknown).

    Recorded in clear when the case opens, so statistics outlive the erasure of the birth
    date itself."""
    if birth_date is None or birth_date > on:
        return None
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return next((group for bound, group in _AGE_BOUNDS if age < bound), AgeGroup.AGE_48_PLUS)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def country_code(value: str) -> str:
    code = value.strip().upper()
    if not _COUNTRY.match(code):
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


class Person(_Frozen):
    """Who the case protects. Personal data: never in ids, search attributes or logs."""

    given_name: PersonalText = Field(min_length=1, max_length=120)
    family_name: PersonalText = Field(min_length=1, max_length=120)
    sex: Sex
    birth_date: PersonalDate = None
    nationality: str = Field(description="ISO 3166-1 alpha-2")
    languages: tuple[str, ...] = Field(default=(), max_length=10)

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, value: str) -> str:
        return country_code(value)


class VictimContext(_Frozen):
    """How the person was exploited (HTCDS): the non-identifying context statistics use."""

    exploitation_types: tuple[ExploitationType, ...] = ()
    means_of_control: tuple[MeansOfControl, ...] = ()
    recruiter_relation: RecruiterRelation | None = None
    labour_industry: LabourIndustry | None = None
    country_of_exploitation: str | None = None
    is_abduction: bool | None = None

    @field_validator("country_of_exploitation")
    @classmethod
    def _exploitation_country(cls, value: str | None) -> str | None:
        return None if value is None else country_code(value)

"""Custom search attributes of case workflows: opaque, never personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_OVERDUE = SearchAttributeKey.for_bool("CaseOverdue")
CASE_OPEN_STEPS = SearchAttributeKey.for_keyword_list("CaseOpenSteps")
ASSIGNED_TO = SearchAttributeKey.for_keyword("AssignedTo")
CRIME_TYPE = SearchAttributeKey.for_keyword("CrimeType")

ALL: tuple[SearchAttributeKey, ...] = (
    CASE_STATUS,
    CASE_OVERDUE,
    CASE_OPEN_STEPS,
    ASSIGNED_TO,
    CRIME_TYPE,
)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {
        "KEYWORD": "Keyword",
        "BOOL": "Bool",
        "KEYWORD_LIST": "KeywordList",
        "INT": "Int",
        "DATETIME": "Datetime",
    }
    flags: list[str] = []
    for key in ALL:
        kind = kinds[key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags

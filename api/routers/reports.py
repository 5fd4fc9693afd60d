"""Reports: the national statistical report and the anonymised record-level export.

Analysts reach only these (and no case); supervisors too. Neither holds a person: the
report is counts, the export is k-anonymous rows without identifiers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from amparo.users import Role, User
from api.deps import ServicesDep, allow
from api.problems import Problem, ProblemError
from domain.errors import DomainError
from domain.statistics import Period
from reports import htcds
from reports.model import Variant
from reports.render import render
from reports.statistics import statistics_report
from reports.victims import victim_records

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 422)
}
router = APIRouter(prefix="/reports", tags=["reports"], responses=ERRORS)
Reader = Annotated[User, allow(Role.ANALYST, Role.SUPERVISOR)]
First = Annotated[date, Query(alias="from", description="the period's first day (local)")]
Last = Annotated[date, Query(alias="to", description="the period's last day, inclusive")]


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def _period(services: ServicesDep, first: date, last: date) -> Period:
    try:
        return Period(first, last, services.settings.report_timezone)
    except DomainError as error:
        raise ProblemError(422, error.code, error.detail) from None


@router.get(
    "/statistics",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}},
)
async def statistics(
    _: Reader,
    services: ServicesDep,
    first: First,
    last: Last,
    format: ReportFormat = ReportFormat.JSON,
    variant: Variant = Variant.FULL,
) -> Response:
    """The six indicators per crime type, with breakdowns and step durations, for the
    period; `variant=public` suppresses counts from 1 to 4."""
    period = _period(services, first, last)
    report = await run_in_threadpool(
        statistics_report, services.reads.engine, period, variant=variant, now=datetime.now(UTC)
    )
    body, media_type = await run_in_threadpool(render, report, format.value)
    return Response(body, media_type=media_type, headers=_attachment("statistics", period, format))


@router.get(
    "/htcds",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def htcds_export(
    _: Reader,
    services: ServicesDep,
    first: First,
    last: Last,
    format: ExportFormat = ExportFormat.CSV,
) -> Response:
    """Persons identified in the period as rows of the CTDC global data set (HTCDS field
    names), anonymised: no identifiers, years only, k-anonymous with k = 11."""
    period = _period(services, first, last)
    records = await run_in_threadpool(victim_records, services.reads.engine, period)
    export = htcds.export_rows(records)  # k = 11, the CTDC's
    if format is ExportFormat.CSV:
        body, media_type = htcds.to_csv(export), "text/csv; charset=utf-8"
    else:
        body, media_type = htcds.to_json(export), "application/json"
    return Response(body, media_type=media_type, headers=_attachment("htcds", period, format))


def _attachment(name: str, period: Period, format: StrEnum) -> dict[str, str]:
    if format.value == "json":
        return {}
    filename = f"amparo-{name}-{period.first}-{period.last}.{format.value}"
    disposition = "inline" if format.value == "html" else "attachment"
    return {"Content-Disposition": f'{disposition}; filename="{filename}"'}

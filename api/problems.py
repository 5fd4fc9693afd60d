"""Errors as `application/problem+json`: one shape, one place, never a stack trace.

Every error carries a stable `code` the interfaces translate. Domain refusals are 409
with the domain's code, invalid input 422 naming the field, unknown or invisible cases
404 (their existence is not revealed).
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from amparo.cases import CommandPending, CommandRefused

log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"

# Domain codes that are not 409: the case is absent (or hidden), or must be retried.
_STATUS_OF_CODE = {"case_not_found": 404, "referral_not_found": 404, "proceeding_not_found": 404}


class Problem(BaseModel):
    """RFC 9457 problem details, plus Amparo's stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


# Every route documents these answers (401 … 503) as problems.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 403, 404, 409, 413, 422, 503)
}


class ProblemError(Exception):
    """Raise anywhere in the API to answer with a problem."""

    def __init__(self, status: int, code: str, detail: str, title: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.title = title or _TITLES.get(status, "Error")


_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused by the rules of the path",
    413: "Request too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://amparo.example/problems/{code}",
        title=title or _TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status, headers=headers, media_type=MEDIA_TYPE
    )


_SOURCES = ("body", "query", "path", "header", "form")
# A location's parts are field names and list indexes; anything else is a key the client
# sent (a dict's, or one not allowed), which is input: it is not echoed.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# pydantic quotes the offending character of a UUID ("found `R` at 1"): input too.
_QUOTED_INPUT = re.compile(r",? *found `[^`]*`(?: at \d+)?")


def _field(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":  # its location is an offset, not a field
        return "body"
    parts = [_part(p) for p in error["loc"] if p not in _SOURCES]
    return ".".join(parts) or "body"


def _part(part: object) -> str:
    if isinstance(part, int) or (isinstance(part, str) and _FIELD_NAME.match(part)):
        return str(part)
    return "*"


def _message(error: dict[str, Any]) -> str:
    """What was wrong, in pydantic's words, never the value sent: `input` and `ctx` (which
    can quote it) are not used."""
    return _QUOTED_INPUT.sub("", str(error.get("msg", "invalid")))


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(e), "message": _message(e)} for e in exc.errors()]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    return problem(422, "invalid_input", detail, errors=errors)


async def _problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(exc.status, exc.code, exc.detail, title=exc.title, headers=headers)


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CommandRefused)
    return problem(_STATUS_OF_CODE.get(exc.code, 409), exc.code, exc.detail)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot parse (not UTF-8, nested too deep for the
        # JSON parser): invalid input like any other, so 422 naming the body.
        message = "could not be read as JSON"
        errors = [{"field": "body", "message": message}]
        return problem(422, "invalid_input", f"body: {message}", errors=errors)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    code = codes.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return problem(exc.status_code, code, str(exc.detail), headers=headers)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Temporal (or the worker) did not answer in time: nothing is lost, the caller may
    # retry with the same Idempotency-Key and the command is applied at most once.
    status = getattr(getattr(exc, "status", None), "name", None)  # names no person
    log.warning("command not answered", error=type(exc).__name__, status=status)
    detail = "the case service did not answer in time; retry with the same Idempotency-Key"
    return problem(503, "service_unavailable", detail, headers={"Retry-After": "5"})


async def _pending(_: Request, exc: Exception) -> JSONResponse:
    detail = (
        "the case service did not answer in time; the command may still be applied: "
        "send it again with the same Idempotency-Key to get its outcome"
    )
    return problem(503, "command_pending", detail, headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", path=request.url.path, error=type(exc).__name__)
    return problem(500, "internal_error", "something went wrong; it has been logged")


def _document_problems(app: FastAPI) -> None:
    """Describe errors in the OpenAPI document as they are sent: `application/problem+json`.

    `responses={status: {"model": Problem, ...}}` puts the model's schema under the route's
    own media type (`application/json`), which errors are never sent as; move it.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI: moving twice finds nothing to move
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    undescribed = MEDIA_TYPE in content and not content[MEDIA_TYPE].get("schema")
                    if undescribed and "application/json" in content:
                        content[MEDIA_TYPE] = content.pop("application/json")
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Route every error through a problem response, and document it as such."""
    _document_problems(app)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(CommandRefused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(CommandPending, _pending)
    app.add_exception_handler(RPCError, _unavailable)
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, _unavailable)
    app.add_exception_handler(Exception, _unexpected)

"""Structured logging: JSON when not on a terminal, readable on one; never a person's data.

Every line about a case carries `case_id`. Personal data is masked as a second line of
defence (code never logs it in the first place), on every path into the log:

- fields, at any depth (nested dicts, lists, pydantic models), whose key is personal
  (`PERSONAL_KEYS`): their value becomes `[redacted]`;
- stdlib records (uvicorn, Temporal's SDK, httpx): their `%` arguments are masked the
  same way before the message is formatted, and a request line loses its query string
  (`GET /api/v1/cases?q=Peña` would put a name in the access log);
- text (messages, exception messages): `given_name='…'`, `'note': '…'` and pydantic's
  `input_value=…` have their values masked;
- exceptions: validation errors (pydantic's, FastAPI's) are written without the input
  they refused, SQLAlchemy errors without their parameters.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import structlog
from pydantic import BaseModel

REDACTED = "[redacted]"

# Keys whose values are personal data (or secrets): masked wherever they appear.
PERSONAL_KEYS = frozenset(
    {
        # the person
        "person", "given_name", "family_name", "first_name", "last_name", "full_name",
        "name", "birth_date", "date_of_birth", "q", "query", "search",
        # what is written about them
        "text", "note", "notes", "reason", "consent_override",
        # documents and how to reach them
        "number", "contact", "phone", "email", "address",
        # what a request carried, and credentials
        "body", "input", "input_value", "password", "token", "access_token", "secret",
        "authorization", "cookie",
    }
)  # fmt: skip
_MAX_DEPTH = 12
_KEYS = "|".join(sorted(PERSONAL_KEYS, key=len, reverse=True))
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
# given_name='Rosa' (a model's repr, keyword arguments); input_value=… (pydantic's errors)
_NESTED = r"\[[^\[\]]*\]|\{[^{}]*\}"  # a flat list or dict
_ASSIGNED = re.compile(
    rf"(?<![\w.])({_KEYS})=(?!\[redacted\])({_QUOTED}|{_NESTED}|[^\s,)\]}}]+)", re.IGNORECASE
)
_INPUT_VALUE = re.compile(r"(input_value=).*?(, input_type=)")
# 'note': 'met her…' (a dict's repr), "note": "…" (JSON)
_ITEM = re.compile(
    rf"(['\"])({_KEYS})\1(\s*:\s*)({_QUOTED}|{_NESTED}|[^\s,}}\]{{\[][^,}}\]]*)", re.IGNORECASE
)


def scrub_text(text: str) -> str:
    """`text` with the values of personal fields written into it masked."""
    if "=" not in text and ":" not in text:
        return text
    text = _INPUT_VALUE.sub(rf"\g<1>{REDACTED}\g<2>", text)
    text = _ASSIGNED.sub(rf"\g<1>={REDACTED}", text)
    return _ITEM.sub(rf"\g<1>\g<2>\g<1>\g<3>{REDACTED}", text)


def mask(value: Any, depth: int = 0) -> Any:
    """A copy of `value` with every personal field masked, at any depth."""
    if depth > _MAX_DEPTH:
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: _masked_item(k, v, depth) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask(item, depth + 1) for item in value]
    return value


# A server's `address` (host:port, as the dev stack logs Temporal's) is nobody's home.
_SERVER_ADDRESS = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


def _masked_item(key: object, value: Any, depth: int) -> Any:
    if isinstance(key, str) and key.lower() in PERSONAL_KEYS:
        server = key == "address" and isinstance(value, str) and _SERVER_ADDRESS.match(value)
        return value if server else REDACTED
    return mask(value, depth + 1)


_STRUCTLOG_KEYS = frozenset({"_record", "_from_structlog", "exc_info"})


def drop_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask personal fields, in case one slips into a log call."""
    for key, value in list(event_dict.items()):
        if key in _STRUCTLOG_KEYS:
            continue
        event_dict[key] = _masked_item(key, value, 0)
    return event_dict


# --- stdlib records ----------------------------------------------------------------------


def without_query(target: object) -> str:
    """A request target or URL without its query string (it can hold a name search)."""
    return str(target).split("?", 1)[0]


class MaskRecords(logging.Filter):
    """Masks a stdlib record's arguments before its message is formatted from them.

    uvicorn's access log writes `'%s - "%s %s HTTP/%s" %d'` with the request target as
    its third argument, httpx `'HTTP Request: %s %s "%s %d %s"'` with the URL second:
    both lose their query string.
    """

    _URL_ARGUMENT = {"uvicorn.access": 2, "httpx": 1}

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "_logger"):  # structlog's own: masked by its processors
            return True
        args = record.args
        if isinstance(args, tuple):
            masked = [mask(arg) for arg in args]
            at = self._URL_ARGUMENT.get(record.name)
            if at is not None and len(masked) > at:
                masked[at] = without_query(masked[at])
            record.args = tuple(masked)
        elif isinstance(args, Mapping):
            record.args = mask(args)
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        return True


# --- exceptions --------------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, and a group's members, each once."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def _validation_summary(count: int, title: str, errors: Any) -> str:
    """Where and what, never the input (nor `ctx`, which can quote it)."""
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')} [{e.get('type', '')}]"
        for e in errors
        if isinstance(e, Mapping)
    ]
    return f"{count} validation error(s) for {title}: " + "; ".join(parts)


def safe_message(exc: BaseException) -> str:
    """What the log may say about `exc`: its message without the data it quotes."""
    pydantic_core = sys.modules.get("pydantic_core")
    if pydantic_core is not None and isinstance(exc, pydantic_core.ValidationError):
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        return _validation_summary(exc.error_count(), exc.title, errors)
    fastapi_errors = sys.modules.get("fastapi.exceptions")
    if fastapi_errors is not None and isinstance(exc, fastapi_errors.ValidationException):
        errors = list(exc.errors())
        return _validation_summary(len(errors), type(exc).__name__, errors)
    sqlalchemy_errors = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_errors is not None and isinstance(exc, sqlalchemy_errors.StatementError):
        hidden = exc.hide_parameters
        exc.hide_parameters = True  # the parameters are rows: names, notes
        try:
            return scrub_text(str(exc))
        finally:
            exc.hide_parameters = hidden
    return scrub_text(_str(exc))


def _str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a broken __str__ must not break logging
        return f"<{type(exc).__name__}>"


def format_exception_safely(exc_info: Any) -> str:
    """The traceback (frames, types) with each exception's message made safe.

    Frames show file, line and code, never local variables.
    """
    text = "".join(traceback.format_exception(*exc_info))
    for exc in _chain(exc_info[1]):
        original, safe = _str(exc), safe_message(exc)
        if original and original != safe:
            text = text.replace(original, safe)
    return scrub_text(text)


# --- configuration -----------------------------------------------------------------------


def _renderer(fmt: str) -> Any:
    if fmt == "console" or (fmt == "auto" and sys.stderr.isatty()):
        return structlog.dev.ConsoleRenderer()
    return structlog.processors.JSONRenderer()


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    """Route structlog and stdlib logging (Temporal's, uvicorn's) through one renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(format_exception_safely),
            _renderer(fmt),
        ],
    )
    masking = MaskRecords()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(masking)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Also on the loggers whose lines carry request targets, in case a server gives them
    # handlers of their own (uvicorn's default configuration does, not propagating).
    for name in MaskRecords._URL_ARGUMENT:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskRecords) for f in logger.filters):
            logger.addFilter(masking)
    for chatty in ("alembic", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    if "temporalio" in sys.modules:  # only processes that use Temporal pay for importing it
        temporal_context_as_fields()


def temporal_context_as_fields() -> None:
    """The workflow/activity context goes in its own field, not glued onto the message."""
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False

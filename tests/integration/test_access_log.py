"""The access log on SQLite and PostgreSQL: recorded once per case, newest first, paged."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from store.access_log import Access, AccessKind, AccessLog, InvalidCursor
from store.schema import access_log

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def log(engine: Engine) -> AccessLog:
    return AccessLog(engine)


def test_a_read_is_recorded_with_who_when_and_where(log: AccessLog) -> None:
    case_id = uuid.uuid4()
    log.record("ana", AccessKind.CASE_READ, case_id=case_id, path=f"/cases/{case_id}", at=START)
    [entry] = log.for_case(case_id).items
    assert (entry.username, entry.kind, entry.case_id) == ("ana", "case_read", case_id)
    assert entry.at == START
    assert entry.path == f"/cases/{case_id}"
    assert log.for_case(uuid.uuid4()).items == ()


def test_entries_come_newest_first_page_by_page(log: AccessLog) -> None:
    case_id = uuid.uuid4()
    for minute in range(5):
        log.record("ana", "events_read", case_id=case_id, at=START + timedelta(minutes=minute))
    log.record("sofia", "case_read", case_id=case_id, at=START + timedelta(minutes=4))  # a tie
    log.record("ana", "case_read", case_id=uuid.uuid4(), at=START)  # another case
    seen: list[Access] = []
    cursor, pages = None, 0
    while True:
        page = log.for_case(case_id, limit=2, cursor=cursor)
        seen.extend(page.items)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert [e.at for e in seen] == sorted((e.at for e in seen), reverse=True)
    assert len({e.entry_id for e in seen}) == 6
    assert seen[0].username == "sofia"  # recorded last at the same moment: shown first


def test_a_list_records_each_case_once_in_one_statement(log: AccessLog, engine: Engine) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    log.record_many("hogar", AccessKind.REFERRAL_READ, [first, second, first], at=START)
    log.record_many("hogar", AccessKind.REFERRAL_READ, [], at=START)  # nothing shown
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(access_log)) == 2
    assert [e.kind for e in log.for_case(first).items] == ["referral_read"]


def test_failed_sign_ins_have_no_case(log: AccessLog) -> None:
    log.record("nobody-here", AccessKind.LOGIN_FAILED, path="/auth/token", at=START)
    log.record("ana", AccessKind.LOGIN_FAILED, at=START + timedelta(seconds=1))
    failed = log.failed_logins(since=START)
    assert [(e.username, e.case_id) for e in failed] == [("ana", None), ("nobody-here", None)]
    assert log.failed_logins(since=START + timedelta(seconds=2)) == []


def test_long_values_are_cut_to_the_columns(log: AccessLog) -> None:
    case_id = uuid.uuid4()
    log.record("x" * 100, "case_read", case_id=case_id, path="/" + "p" * 300, at=START)
    [entry] = log.for_case(case_id).items
    assert len(entry.username) == 64
    assert entry.path is not None and len(entry.path) == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(json.dumps({"at": "2025-01-01T00:00:00"}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"at": "2025-01-01T00:00:00", "entry_id": 1}).encode()
        ).decode(),  # naive
        base64.urlsafe_b64encode(
            json.dumps({"at": "2025-01-01T00:00:00+00:00", "entry_id": "1"}).encode()
        ).decode(),
    ],
)
def test_a_foreign_cursor_is_refused(log: AccessLog, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        log.for_case(uuid.uuid4(), cursor=cursor)

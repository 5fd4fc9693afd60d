"""The inbox on SQLite and PostgreSQL: delivered once per recipient, read only by its owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, func, select

from store.notifications import Inbox, NotificationOut
from store.schema import notifications

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE = UUID("6f1c2c43-5c2a-4a8e-9d7e-3f1e2b8c9a01")


@pytest.fixture
def inbox(engine: Engine) -> Inbox:
    return Inbox(engine)


def deliver(inbox: Inbox, recipients: list[str], at: datetime = T0, **kw: object) -> list[str]:
    notification_id = kw.pop("notification_id", None) or uuid4()
    assert isinstance(notification_id, UUID)
    return inbox.deliver(
        notification_id,
        recipients,
        case_id=CASE,
        kind="step_overdue",
        params={"step": "shelter", "due_at": "2026-03-01T09:00:00+00:00"},
        at=at,
    )


def row_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(notifications)) or 0)


def test_delivering_the_same_notification_again_adds_nothing(engine: Engine, inbox: Inbox) -> None:
    notification_id = uuid4()

    first = deliver(inbox, ["ana", "sofia", "ana"], notification_id=notification_id)
    again = deliver(inbox, ["sofia", "ana"], notification_id=notification_id)
    widened = deliver(inbox, ["ana", "pedro"], notification_id=notification_id)

    assert first == ["ana", "sofia"]
    assert again == []
    assert widened == ["pedro"]
    assert row_count(engine) == 3
    assert [n.notification_id for n in inbox.list("ana")] == [notification_id]
    assert deliver(inbox, []) == []


def test_a_redelivery_keeps_the_row_as_it_was(inbox: Inbox) -> None:
    notification_id = uuid4()
    deliver(inbox, ["ana"], notification_id=notification_id)
    inbox.mark_read("ana", [notification_id], T0 + timedelta(hours=1))
    inbox.mark_emailed(notification_id, "ana", T0 + timedelta(minutes=1))

    deliver(inbox, ["ana"], at=T0 + timedelta(days=1), notification_id=notification_id)

    (kept,) = inbox.list("ana")
    assert kept.created_at == T0
    assert kept.read_at == T0 + timedelta(hours=1)
    assert inbox.pending_email(notification_id) == []


def test_the_list_is_newest_first_and_holds_what_was_delivered(inbox: Inbox) -> None:
    ids = [uuid4() for _ in range(4)]
    for hours, notification_id in enumerate(ids):
        deliver(inbox, ["ana"], at=T0 + timedelta(hours=hours), notification_id=notification_id)

    listed = inbox.list("ana")

    assert [n.notification_id for n in listed] == ids[::-1]
    assert listed[0] == NotificationOut(
        notification_id=ids[-1],
        case_id=CASE,
        kind="step_overdue",
        params={"step": "shelter", "due_at": "2026-03-01T09:00:00+00:00"},
        created_at=T0 + timedelta(hours=3),
        read_at=None,
    )
    assert [n.notification_id for n in inbox.list("ana", limit=2)] == ids[:1:-1]
    assert inbox.list("nobody") == []


def test_marking_read_touches_only_the_callers_own(inbox: Inbox) -> None:
    mine, theirs, shared = uuid4(), uuid4(), uuid4()
    deliver(inbox, ["ana"], notification_id=mine)
    deliver(inbox, ["luis"], notification_id=theirs)
    deliver(inbox, ["ana", "luis"], notification_id=shared)
    later = T0 + timedelta(hours=2)

    marked = inbox.mark_read("ana", [mine, theirs, shared, uuid4()], later)

    assert marked == 2
    assert inbox.count_unread("ana") == 0
    assert inbox.count_unread("luis") == 2
    assert {n.read_at for n in inbox.list("luis")} == {None}
    assert inbox.mark_read("ana", [mine, shared], later + timedelta(hours=1)) == 0  # once
    assert {n.read_at for n in inbox.list("ana")} == {later}
    assert inbox.mark_read("ana", [], later) == 0


def test_unread_only_lists_and_counts_the_unread(inbox: Inbox) -> None:
    read, unread = uuid4(), uuid4()
    deliver(inbox, ["ana"], notification_id=read)
    deliver(inbox, ["ana"], at=T0 + timedelta(minutes=1), notification_id=unread)
    inbox.mark_read("ana", [read], T0 + timedelta(hours=1))

    assert [n.notification_id for n in inbox.list("ana", unread_only=True)] == [unread]
    assert inbox.count_unread("ana") == 1
    assert len(inbox.list("ana")) == 2


def test_pending_email_lists_who_has_not_been_emailed(inbox: Inbox) -> None:
    notification_id = uuid4()
    deliver(inbox, ["sofia", "ana", "pedro"], notification_id=notification_id)

    inbox.mark_emailed(notification_id, "pedro", T0)
    inbox.mark_emailed(notification_id, "pedro", T0 + timedelta(hours=1))  # the first stays
    inbox.mark_emailed(notification_id, "nobody", T0)

    assert inbox.pending_email(notification_id) == ["ana", "sofia"]
    assert inbox.pending_email(uuid4()) == []

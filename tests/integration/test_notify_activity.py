"""The notify activity against a real SMTP server (aiosmtpd) and SQLite / PostgreSQL.

It runs in Temporal's `ActivityEnvironment`; running it again is what a Temporal retry
or a restarted worker does. Each recipient gets one inbox row and at most one email,
the inbox is written whatever SMTP does, and a retry sends only the emails still missing.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.models import NotifyInput, NotifyResult
from activities.notifications import NotificationActivities
from amparo.mailer import Mailer, MailError
from amparo.notification_texts import render
from amparo.settings import Settings
from amparo.users import InvalidUser, UserDirectory
from store.notifications import Inbox

PASSWORD = "correct horse battery"
CASE = UUID("0c9a3e4b-7d21-4f5e-8a6b-1e2d3c4b5a69")
PARAMS = {"step": "shelter", "since": "2026-03-01T09:00:00+00:00"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Handler:
    """Collects accepted messages; answers `data_answer` to DATA, or refuses addresses."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.data_answer: str | None = None  # e.g. "451 ...": refuse every message
        self.refused: set[str] = set()  # addresses answered 550 at RCPT

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answer:
            return self.data_answer
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self) -> list[str]:
        return sorted(str(m["To"]) for m in self.messages)


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def users(engine: Engine) -> UserDirectory:
    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    directory = UserDirectory(engine, hasher=quick)
    for name, role, institution, email, language in [
        ("ana", "caseworker", "pett", "ana@pett.example", "es"),
        ("luis", "caseworker", "pett", None, "es"),
        ("sofia", "supervisor", "pett", "sofia@pett.example", "es"),
        ("pedro", "supervisor", "pett", "pedro@pett.example", "en"),
        ("viejo", "supervisor", "pett", "viejo@pett.example", "es"),
        ("miguel", "supervisor", "migracion", "miguel@migracion.example", "es"),
    ]:
        directory.add(
            name,
            role=role,
            password=PASSWORD,
            institution=institution,
            email=email,
            language=language,
        )
    directory.disable("viejo")
    return directory


@pytest.fixture
def inbox(engine: Engine) -> Inbox:
    return Inbox(engine)


def activities(inbox: Inbox, users: UserDirectory, port: int | None) -> NotificationActivities:
    mailer = Mailer("127.0.0.1", port=port, sender="amparo@pett.example") if port else None
    return NotificationActivities(inbox, users, mailer)


def overdue(notification_id: UUID | None = None) -> NotifyInput:
    return NotifyInput(
        notification_id=notification_id or uuid4(),
        case_id=CASE,
        kind="step_overdue",
        params=PARAMS,
        to_users=["ana", "luis"],
        to_supervisors_of="pett",
    )


def run(
    notify: NotificationActivities, inp: NotifyInput, timeout: timedelta = timedelta(seconds=60)
) -> NotifyResult:
    """One attempt, with the start-to-close timeout the case workflow gives it."""
    env = ActivityEnvironment()
    env.info = replace(env.info, start_to_close_timeout=timeout)
    result: NotifyResult = env.run(notify.notify, inp)
    return result


def recipients(inbox: Inbox, notification_id: UUID) -> set[str]:
    names = ("ana", "luis", "sofia", "pedro", "viejo", "miguel", "rosa")
    return {
        name
        for name in names
        if any(n.notification_id == notification_id for n in inbox.list(name))
    }


EMAILED = ["ana@pett.example", "pedro@pett.example", "sofia@pett.example"]


def test_each_recipient_gets_one_email_however_often_it_runs(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    notify = activities(inbox, users, port)
    inp = overdue()

    first = run(notify, inp)
    again = run(notify, inp)  # a retry, or the same activity on a restarted worker

    assert first == NotifyResult(delivered=4, emailed=3)  # luis has no address
    assert again == NotifyResult(delivered=0, emailed=0)
    assert handler.to() == EMAILED
    assert recipients(inbox, inp.notification_id) == {"ana", "luis", "sofia", "pedro"}
    assert inbox.pending_email(inp.notification_id) == ["luis"]


def test_the_email_says_only_the_case_step_and_dates_in_the_readers_language(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    inp = overdue()
    run(activities(inbox, users, port), inp)

    by_address = {str(m["To"]): m for m in handler.messages}
    ana, pedro = by_address["ana@pett.example"], by_address["pedro@pett.example"]
    # Long subjects are folded onto a second line; unfolding leaves the fold's space.
    assert ana["Subject"].strip() == f"Paso vencido: alojamiento del caso {CASE}"
    assert pedro["Subject"].strip() == f"Step overdue: shelter of case {CASE}"
    assert "2026-03-01 09:00 UTC" in ana.get_content()
    assert ana["From"] == "amparo@pett.example"
    assert ana["Auto-Submitted"] == "auto-generated"
    # One Message-ID per notification and recipient, the same on every attempt.
    ids = {m["Message-ID"] for m in handler.messages}
    assert len(ids) == 3
    mailer = Mailer("127.0.0.1", sender="amparo@pett.example")
    assert ana["Message-ID"] == mailer.message_id(inp.notification_id, "ana")
    assert ana["Message-ID"].endswith("@pett.example>")


def test_the_inbox_is_written_even_when_smtp_refuses_and_a_retry_sends_the_rest(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    notify = activities(inbox, users, port)
    inp = overdue()
    handler.data_answer = "451 4.3.0 try again later"

    with pytest.raises(MailError) as failed:
        run(notify, inp)

    assert failed.value.smtp_code == 451
    assert not failed.value.permanent
    assert recipients(inbox, inp.notification_id) == {"ana", "luis", "sofia", "pedro"}
    assert handler.messages == []

    handler.data_answer = None  # the server recovers; Temporal retries
    assert run(notify, inp) == NotifyResult(delivered=0, emailed=3)
    assert run(notify, inp) == NotifyResult(delivered=0, emailed=0)
    assert handler.to() == EMAILED


def test_a_refused_address_does_not_hold_back_the_others(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    notify = activities(inbox, users, port)
    inp = overdue()
    handler.refused = {"sofia@pett.example"}

    with pytest.raises(MailError) as failed:
        run(notify, inp)

    assert failed.value.permanent
    assert "sofia" not in str(failed.value)  # no addresses in errors (they reach Temporal)
    assert handler.to() == ["ana@pett.example", "pedro@pett.example"]
    assert inbox.pending_email(inp.notification_id) == ["luis", "sofia"]

    handler.refused = set()  # the mailbox is fixed; the retry sends only what is missing
    assert run(notify, inp) == NotifyResult(delivered=0, emailed=1)
    assert handler.to() == EMAILED


def test_an_unreachable_server_fails_the_activity_but_not_the_inbox(
    inbox: Inbox, users: UserDirectory
) -> None:
    notify = activities(inbox, users, free_port())  # nothing listens there
    inp = overdue()

    with pytest.raises(MailError) as failed:
        run(notify, inp)

    assert failed.value.smtp_code is None
    assert recipients(inbox, inp.notification_id) == {"ana", "luis", "sofia", "pedro"}
    assert inbox.pending_email(inp.notification_id) == ["ana", "luis", "pedro", "sofia"]


def test_no_email_starts_when_the_attempt_is_nearly_out_of_time(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    notify = activities(inbox, users, port)
    inp = overdue()

    # A later start could outlive the attempt and race the retry's send of the same email.
    with pytest.raises(MailError, match="out of time"):
        run(notify, inp, timeout=timedelta(seconds=20))  # less than 3 mailer timeouts

    assert handler.messages == []
    assert recipients(inbox, inp.notification_id) == {"ana", "luis", "sofia", "pedro"}
    assert run(notify, inp) == NotifyResult(delivered=0, emailed=3)


def test_without_smtp_notifications_go_to_the_inbox_only(
    inbox: Inbox, users: UserDirectory
) -> None:
    inp = overdue()
    assert run(activities(inbox, users, None), inp) == NotifyResult(delivered=4, emailed=0)
    assert Mailer.from_settings(Settings()) is None


def test_supervisors_are_the_active_ones_of_that_institution_when_it_runs(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    notify = activities(inbox, users, port)
    inp = NotifyInput(
        notification_id=uuid4(), case_id=CASE, kind="step_escalated", to_supervisors_of="pett"
    )
    assert [u.username for u in users.supervisors_of("pett")] == ["pedro", "sofia"]

    assert run(notify, inp) == NotifyResult(delivered=2, emailed=2)
    users.add(
        "rosa", role="supervisor", password=PASSWORD, institution="pett", email="rosa@pett.example"
    )
    assert run(notify, inp) == NotifyResult(delivered=1, emailed=1)  # the retry finds rosa

    assert recipients(inbox, inp.notification_id) == {"pedro", "sofia", "rosa"}
    assert handler.to() == ["pedro@pett.example", "rosa@pett.example", "sofia@pett.example"]
    assert users.supervisors_of("nowhere") == []


def test_unknown_and_disabled_users_are_skipped(
    smtp: tuple[Handler, int], inbox: Inbox, users: UserDirectory
) -> None:
    handler, port = smtp
    inp = NotifyInput(
        notification_id=uuid4(), case_id=None, kind="case_assigned", to_users=["nobody", "viejo"]
    )
    assert run(activities(inbox, users, port), inp) == NotifyResult(delivered=0, emailed=0)
    assert handler.messages == []


def test_a_notification_carries_no_free_text() -> None:
    with pytest.raises(ValidationError):
        NotifyInput(notification_id=uuid4(), case_id=CASE, kind="x", params={"name": "Rosa"})
    with pytest.raises(ValidationError):
        NotifyInput(notification_id=uuid4(), case_id=CASE, kind="x", params={"reason": "a b"})
    with pytest.raises(ValidationError):
        NotifyInput(notification_id=uuid4(), case_id=CASE, kind="Step Overdue")


def test_every_kind_renders_in_both_languages_and_unknown_ones_generically() -> None:
    for language in ("es", "en"):
        text = render("visa_expiring", language, case_id=CASE, params={"visa_kind": "work"})
        assert str(CASE) in text.subject
        assert "-" in text.body  # expires_on was not given: a dash, not an error
        generic = render("new_kind", language, case_id=None, params={})
        assert "new_kind" in generic.subject
    assert render("step_overdue", "fr", case_id=CASE, params=PARAMS).subject.startswith("Paso")


def test_a_malformed_email_address_is_refused(users: UserDirectory) -> None:
    for email in ("not-an-address", "a@b", "a b@c.example", "x@" + "y" * 250 + ".example"):
        with pytest.raises(InvalidUser):
            users.add("otro", role="admin", password=PASSWORD, email=email)
    assert users.get("otro") is None


def test_the_smtp_password_is_never_shown() -> None:
    settings = Settings(smtp_host="mail.example", smtp_password="s3cret-pass")
    assert "s3cret-pass" not in repr(settings)
    mailer = Mailer.from_settings(settings)
    assert mailer is not None
    assert "s3cret-pass" not in repr(mailer)

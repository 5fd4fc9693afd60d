"""The notify activity: inbox rows for the recipients, then their emails, each once."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from temporalio import activity

from activities.models import NOTIFY, NotifyInput, NotifyResult
from amparo.mailer import Mailer, MailError
from amparo.notification_texts import render
from amparo.users import User, UserDirectory
from domain.supervision import delivery_failing
from store.deliveries import DeliveryHealth
from store.notifications import Inbox

log = structlog.get_logger(__name__)
# No email starts later than this many mailer timeouts before the attempt's deadline.
SEND_MARGIN = 3


class NotificationActivities:
    """Built once per worker with the inbox, the user directory and the mailer (None: the
    inbox only, when `AMPARO_SMTP_HOST` is not set)."""

    def __init__(
        self,
        inbox: Inbox,
        users: UserDirectory,
        mailer: Mailer | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        health: DeliveryHealth | None = None,
    ) -> None:
        self._inbox = inbox
        self._users = users
        self._mailer = mailer
        self._clock = clock
        self._health = health

    @activity.defn(name=NOTIFY)
    def notify(self, inp: NotifyInput) -> NotifyResult:
        """Deliver (see `deliver`), and keep the case's `delivery_failing` mark true to life."""
        try:
            result = self.deliver(inp)
        except Exception as error:
            self._report_failure(inp, error)
            raise
        if self._health is not None and activity.info().attempt > 1:
            self._health.recovered(inp.notification_id)
        return result

    def _report_failure(self, inp: NotifyInput, error: Exception) -> None:
        attempt = activity.info().attempt
        if self._health is None or inp.case_id is None or not delivery_failing(attempt):
            return
        self._health.failing(
            inp.notification_id, case_id=inp.case_id, kind=inp.kind, at=self._clock(),
            attempts=attempt, error=f"{type(error).__name__}: {error}",
        )  # fmt: skip

    def deliver(self, inp: NotifyInput) -> NotifyResult:
        """Deliver the notification to each recipient's inbox, then email those who have an
        address and have not been emailed it yet.

        Idempotent on `notification_id`: inbox rows are inserted once per recipient, and
        each email is recorded as sent (`email_sent_at`) right after the server accepts
        it, so a retry or a restarted worker sends only the emails still missing.

        What remains, and cannot be closed from here (SMTP has no idempotency key): an
        email goes out twice if the worker dies, or the database write fails, between the
        server's acceptance of the message and the commit of its `email_sent_at` (one
        small UPDATE), or if the connection drops after the server accepted the message
        but before its "250" reached us. The repeat carries the same Message-ID, so it is
        recognisable downstream. Recording before sending would lose the email instead;
        for an alert about an overdue step a rare duplicate is the better failure. An
        attempt could also outlive its start-to-close timeout while Temporal starts the
        next one, and both would send: so no email is started later than `SEND_MARGIN`
        mailer timeouts before the attempt's deadline; the retry sends the rest.

        A failed email does not stop the others: all are tried, then `MailError` fails
        the activity so Temporal retries it with backoff, and the retry tries only the
        ones that failed. The inbox rows are written before any email, so they are there
        whatever SMTP does.
        """
        started = time.monotonic()
        recipients = self._recipients(inp)
        delivered = self._inbox.deliver(
            inp.notification_id,
            [user.username for user in recipients],
            case_id=inp.case_id,
            kind=inp.kind,
            params=inp.params,
            at=self._clock(),
        )
        emailed = self._email(inp, self._mailer, started) if self._mailer else 0
        log.info(
            "notification delivered",
            notification_id=str(inp.notification_id),
            case_id=str(inp.case_id) if inp.case_id else None,
            kind=inp.kind,
            delivered=len(delivered),
            emailed=emailed,
        )
        return NotifyResult(delivered=len(delivered), emailed=emailed)

    def _recipients(self, inp: NotifyInput) -> list[User]:
        """The named users and the institution's active supervisors, each once; unknown
        and disabled users are left out (they could not read it)."""
        named = [self._active(username) for username in inp.to_users]
        supervisors = (
            self._users.supervisors_of(inp.to_supervisors_of) if inp.to_supervisors_of else []
        )
        unique = {user.username: user for user in [*named, *supervisors] if user is not None}
        return list(unique.values())

    def _active(self, username: str) -> User | None:
        user = self._users.get(username)
        if user is None or user.disabled:
            log.warning("notification recipient skipped", recipient=username, known=bool(user))
            return None
        return user

    def _email(self, inp: NotifyInput, mailer: Mailer, started: float) -> int:
        """Send the emails not sent yet; the number sent, or `MailError` if any failed."""
        pending = self._inbox.pending_email(inp.notification_id)
        deadline = _last_start(started, mailer)
        sent, failures = 0, []
        for username in pending:
            if time.monotonic() > deadline:
                failures.append(MailError("this attempt is nearly out of time"))
                break
            user = self._users.get(username)
            if user is None or user.disabled or not user.email:
                continue
            try:
                self._send(mailer, inp, user, user.email)
            except MailError as error:
                log.warning("notification email failed", recipient=username, error=str(error))
                failures.append(error)
                continue
            sent += 1
        if failures:
            first = failures[0]
            detail = f"{len(failures)} email(s) not sent, first: {first}"
            raise MailError(detail, first.smtp_code) from first
        return sent

    def _send(self, mailer: Mailer, inp: NotifyInput, user: User, address: str) -> None:
        text = render(inp.kind, user.language, case_id=inp.case_id, params=inp.params)
        message_id = mailer.message_id(inp.notification_id, user.username)
        mailer.send(address, text.subject, text.body, message_id)
        # At once, before anything else can fail: this is what stops a retry resending.
        self._inbox.mark_emailed(inp.notification_id, user.username, self._clock())


def _last_start(started: float, mailer: Mailer) -> float:
    """The last moment (`time.monotonic()`) this attempt may start an email."""
    timeout = activity.info().start_to_close_timeout
    if timeout is None:
        return math.inf
    return started + timeout.total_seconds() - SEND_MARGIN * mailer.timeout

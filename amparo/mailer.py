"""Email over SMTP (the standard library's `smtplib`), configured by `AMPARO_SMTP_*`.

Every failure (a 4xx or 5xx answer, a refused or dropped connection, a timeout) raises
`MailError`, so the notify activity fails and Temporal retries it with backoff. Each
message carries a Message-ID derived from the notification and the recipient: should a
duplicate ever get through, mail clients and servers can recognise it as the same message.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from uuid import UUID, uuid5

import structlog

from amparo.settings import Settings

log = structlog.get_logger(__name__)
TIMEOUT_SECONDS = 10.0  # per SMTP command: a stuck server fails the attempt, which retries


class MailError(Exception):
    """The message was not accepted; `smtp_code` is the server's answer, if it gave one."""

    def __init__(self, detail: str, smtp_code: int | None = None) -> None:
        super().__init__(detail)
        self.smtp_code = smtp_code

    @property
    def permanent(self) -> bool:
        """A 5xx answer: retrying will not help until someone changes something."""
        return self.smtp_code is not None and self.smtp_code >= 500


class Mailer:
    """Sends one plain-text message per call, on a connection of its own."""

    def __init__(
        self,
        host: str,
        *,
        sender: str,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._sender = sender
        self._username, self._password = username, password
        self._starttls = starttls

    @property
    def timeout(self) -> float:
        """Seconds each SMTP command may take."""
        return self._timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        """The configured mailer, or None when `AMPARO_SMTP_HOST` is not set."""
        if not settings.smtp_host:
            return None
        return cls(
            settings.smtp_host,
            sender=settings.smtp_from,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    def message_id(self, notification_id: UUID, recipient: str) -> str:
        """The Message-ID of `notification_id`'s email to `recipient`: the same every time."""
        domain = self._sender.rpartition("@")[2]
        return f"<{uuid5(notification_id, recipient)}@{domain}>"

    def send(self, to: str, subject: str, body: str, message_id: str) -> None:
        """Hand the message to the SMTP server; `MailError` unless it accepted it."""
        message = self._message(to, subject, body, message_id)
        try:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        except (smtplib.SMTPException, OSError) as error:
            raise _mail_error(error) from error
        try:
            self._deliver(smtp, message)
        except (smtplib.SMTPException, OSError) as error:
            raise _mail_error(error) from error
        finally:
            _close(smtp)

    def _message(self, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message["Date"] = formatdate(usegmt=True)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        message.set_content(body)
        return message

    def _deliver(self, smtp: smtplib.SMTP, message: EmailMessage) -> None:
        if self._starttls:
            smtp.starttls(context=ssl.create_default_context())
        if self._username:
            smtp.login(self._username, self._password or "")
        smtp.send_message(message)


def _mail_error(error: Exception) -> MailError:
    """The error without the addresses smtplib puts in some messages: only codes."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return MailError(f"recipient refused ({codes[0]})", codes[0] if codes else None)
    if isinstance(error, smtplib.SMTPResponseException):
        return MailError(f"SMTP server answered {error.smtp_code}", error.smtp_code)
    return MailError(f"SMTP server unreachable or dropped the connection ({type(error).__name__})")


def _close(smtp: smtplib.SMTP) -> None:
    """Say QUIT, ignoring how it goes: once the message is accepted (or refused) that is
    settled, and `SMTP.__exit__` would turn an odd answer to QUIT into an error and so
    into a resend."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()

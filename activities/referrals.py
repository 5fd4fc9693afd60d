"""The deliver_referral activity: a referral's minimal data over its institution's channel.

It reads the case as stored (the input carries ids only, so no personal data sits in the
workflow's history) and sends `domain.referrals.payload`: a signed webhook, an email, or
nothing for an inbox institution, whose users read it inside Amparo. Every failure is
retryable: an institution being down must never fail the case; it shows on the board as
`delivery_failing` until a retry succeeds or the caseworker redirects the referral.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import structlog
from temporalio import activity

from activities.models import DELIVER_REFERRAL, DeliverReferralInput, DeliverReferralResult
from amparo.mailer import Mailer
from amparo.notification_texts import LABELS
from amparo.signing import IDEMPOTENCY_HEADER, REFERRAL_HEADER, SIGNATURE_HEADER, sign
from domain import CaseState
from domain.institutions import EmailChannel, Institution, Registry, WebhookChannel
from domain.referrals import ReferralStatus, payload
from domain.supervision import delivery_failing
from domain.vocabulary import Channel
from store.deliveries import DeliveryHealth

log = structlog.get_logger(__name__)
FAILING_KIND = "referral"


class ReferralDeliveryError(Exception):
    """This attempt did not deliver; Temporal retries with backoff. The message names the
    institution and the cause (a status, an exception type), never the payload."""


class ReferralActivities:
    """Built once per worker with the registry, a reader of the stored case state, the
    mailer (None: `AMPARO_SMTP_HOST` unset, email institutions cannot be reached) and the
    delivery health board. `api_url` is where the email tells institutions to answer."""

    def __init__(
        self,
        registry: Registry,
        state_of: Callable[[UUID], CaseState | None],
        mailer: Mailer | None,
        health: DeliveryHealth | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        api_url: str = "/api/v1",
    ) -> None:
        self._registry = registry
        self._state_of = state_of
        self._mailer = mailer
        self._health = health
        self._clock = clock
        self._api_url = api_url.rstrip("/")

    @activity.defn(name=DELIVER_REFERRAL)
    def deliver_referral(self, inp: DeliverReferralInput) -> DeliverReferralResult:
        """Deliver (see `deliver`), and keep the case's `delivery_failing` mark true to life."""
        try:
            channel = self.deliver(inp)
        except Exception as error:
            self._report_failure(inp, error)
            raise
        # A skipped referral (revoked, redirected) must not stay on the board either.
        if self._health is not None and (channel is None or activity.info().attempt > 1):
            self._health.recovered(inp.referral_id)
        return DeliverReferralResult(channel=channel)

    def deliver(self, inp: DeliverReferralInput) -> Channel | None:
        """Send the referral if it still awaits delivery; the channel that took it, or None.

        Idempotent on `referral_id`: the webhook's `Idempotency-Key` lets the institution
        accept a repeat once; an email repeat (the worker dying between the server's
        acceptance and the workflow recording it) carries the same Message-ID.
        """
        state = self._state_of(inp.case_id)
        referral = state.referrals.get(inp.referral_id) if state else None
        if state is None or referral is None or not referral.awaits_delivery:
            log.info("referral not sent", **_ids(inp), known=referral is not None)
            return None
        institution = self._institution(referral)
        body = payload(
            referral, institution, crime_type=state.crime_type, person=state.person,
            victim=state.victim, due_at=_due_at(state, referral),
        )  # fmt: skip
        channel = institution.channel
        if isinstance(channel, WebhookChannel):
            self._post(inp.referral_id, institution.id, channel, body)
        elif isinstance(channel, EmailChannel):
            self._email(inp.referral_id, institution.id, channel, body)
        log.info(
            "referral delivered", **_ids(inp), institution=institution.id, channel=channel.kind
        )
        return channel.kind

    def _institution(self, referral: ReferralStatus) -> Institution:
        """The referral's institution as the registry has it now (it may have changed)."""
        institution = self._registry.get(referral.institution)
        if institution is None:
            raise ReferralDeliveryError(
                f"institution {referral.institution} is not in the registry: redirect the referral"
            )
        if not institution.serves(referral.step):
            raise ReferralDeliveryError(
                f"institution {institution.id} no longer serves {referral.step}: redirect it"
            )
        return institution

    def _post(
        self, referral_id: UUID, institution: str, channel: WebhookChannel, body: dict[str, Any]
    ) -> None:
        """POST the signed JSON; anything but a 2xx answer raises (the retry repeats it)."""
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(channel.secret.get_secret_value(), content, timestamp),
            IDEMPOTENCY_HEADER: str(referral_id),
            REFERRAL_HEADER: str(referral_id),
        }
        try:
            response = httpx.post(
                str(channel.url), content=content, headers=headers, timeout=channel.timeout_seconds
            )
        except httpx.HTTPError as error:
            detail = f"webhook of {institution} failed ({type(error).__name__})"
            raise ReferralDeliveryError(detail) from None
        if not response.is_success:
            detail = f"webhook of {institution} answered {response.status_code}"
            raise ReferralDeliveryError(detail)

    def _email(
        self, referral_id: UUID, institution: str, channel: EmailChannel, body: dict[str, Any]
    ) -> None:
        """Hand the plain-text referral to SMTP; `MailError` (retryable) if not accepted."""
        if self._mailer is None:
            raise ReferralDeliveryError(
                f"AMPARO_SMTP_HOST is not set: cannot email the referral to {institution}"
            )
        subject, text = render_email(body, answer_url=self._answer_url(referral_id))
        message_id = self._mailer.message_id(referral_id, channel.address)
        self._mailer.send(channel.address, subject, text, message_id)

    def _answer_url(self, referral_id: UUID) -> str:
        return f"{self._api_url}/referrals/{referral_id}/answer"

    def _report_failure(self, inp: DeliverReferralInput, error: Exception) -> None:
        attempt = activity.info().attempt
        log.warning(
            "referral delivery failed", **_ids(inp), attempt=attempt, error=type(error).__name__
        )
        if self._health is None or not delivery_failing(attempt) or not self._live(inp):
            return  # a referral revoked or redirected meanwhile is nothing to look at
        self._health.failing(
            inp.referral_id, case_id=inp.case_id, kind=FAILING_KIND, at=self._clock(),
            attempts=attempt, error=f"{type(error).__name__}: {error}",
        )  # fmt: skip

    def _live(self, inp: DeliverReferralInput) -> bool:
        state = self._state_of(inp.case_id)
        referral = state.referrals.get(inp.referral_id) if state else None
        return referral is not None and referral.awaits_delivery


def _ids(inp: DeliverReferralInput) -> dict[str, str]:
    return {"referral_id": str(inp.referral_id), "case_id": str(inp.case_id)}


def _due_at(state: CaseState, referral: ReferralStatus) -> datetime | None:
    status = state.steps.get(referral.step)
    return status.due_at if status is not None else None


# Labels of the person's shared fields in the email (Spanish / English).
FIELD_LABELS = {
    "given_name": "Nombre / Given name",
    "family_name": "Apellido / Family name",
    "sex": "Sexo / Sex",
    "nationality": "Nacionalidad / Nationality",
    "languages": "Idiomas / Languages",
    "birth_date": "Fecha de nacimiento / Birth date",
}


def _step_words(step: str) -> str:
    spanish = LABELS["step"]["es"].get(step, step)
    english = LABELS["step"]["en"].get(step, step)
    return f"{spanish} / {english}"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def render_email(body: dict[str, Any], *, answer_url: str) -> tuple[str, str]:
    """The subject and plain text of a referral email, in Spanish and English: exactly the
    payload's fields (no name in the subject, which mail logs and previews show)."""
    step = _step_words(body["step"])
    subject = f"Derivación de Amparo / Amparo referral: {step} ({body['referral_id']})"
    lines = [
        "Nueva derivación de Amparo / New referral from Amparo",
        "",
        f"Derivación / Referral: {body['referral_id']}",
        f"Paso / Step: {step}",
        f"Derivada el / Referred at: {body['referred_at']}",
        f"Plazo / Due: {_value(body['due_at'])}",
    ]
    if "crime_type" in body:
        lines.append(f"Delito / Crime: {body['crime_type']}")
    if "exploitation_types" in body:
        lines.append(f"Explotación / Exploitation: {_value(body['exploitation_types'])}")
    lines += ["", "Persona / Person:"]
    lines += [f"  {FIELD_LABELS.get(k, k)}: {_value(v)}" for k, v in body["person"].items()]
    lines += [
        "",
        "Para responder / To answer:",
        f"  POST {answer_url}",
        '  {"decision": "accepted" | "declined" | "completed", "reference": "...", "note": "..."}',
        "",
    ]
    return subject, "\n".join(lines)

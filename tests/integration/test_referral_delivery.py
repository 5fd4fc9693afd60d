"""The deliver_referral activity against a real HTTP server, a real SMTP server (aiosmtpd)
and the case as stored in SQLite / PostgreSQL.

It runs in Temporal's `ActivityEnvironment` with the attempt numbers a retrying worker
would give it. The webhook receiver is scripted (500, 500, a hang past the timeout, 200)
and, like a well-behaved institution, accepts each idempotency key once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from temporalio.testing import ActivityEnvironment

from activities.models import DeliverReferralInput, DeliverReferralResult
from activities.referrals import ReferralActivities, ReferralDeliveryError
from amparo.mailer import Mailer, MailError
from amparo.signing import (
    IDEMPOTENCY_HEADER,
    REFERRAL_HEADER,
)
from domain import commands as cmd
from domain.institutions import DEFAULT_SHARED, Registry
from domain.person import ExploitationType, Person, Sex, VictimContext
from domain.vocabulary import Channel, CrimeType, IdentificationOutcome, Step, StepAction
from store.case_state import stored_state
from store.deliveries import DeliveryHealth
from store.event_store import EventStore
from store.schema import delivery_failures
from tests.integration.conftest import free_port
from tests.integration.test_notify_activity import Handler
from tests.support.webhook_receiver import Receiver, serving
from tests.unit.domain_strategies import CASE_ID, DAY, HOUR, T0, Case

NOW = T0 + DAY
SECRET = "the-receivers-shared-secret"
TIMEOUT = 0.5  # the webhook's timeout: the receiver's hang outlasts it
ADDRESS = "asistencia.consular@mirex.gob.do.example"
PERSON = Person(
    given_name="Rosa", family_name="Peña", sex=Sex.FEMALE, nationality="VE",
    birth_date=date(1994, 5, 17), languages=("es",),
)  # fmt: skip
VICTIM = VictimContext(exploitation_types=(ExploitationType.SEXUAL,))


# --- a webhook receiver ------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    institution = Receiver(SECRET, now=lambda: int(NOW.timestamp()), hang_seconds=TIMEOUT * 3)
    with serving(institution) as url:
        yield institution, url


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    handler, port = Handler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


# --- the case and the activity -----------------------------------------------------------


def registry(url: str = "http://127.0.0.1:9/unused") -> Registry:
    """Institutions that all serve shelter, one per channel (and one sharing only a name)."""
    webhook = {"kind": "webhook", "url": url, "secret": SECRET, "timeout_seconds": TIMEOUT}
    shelter = ["shelter"]
    return Registry.model_validate(
        {
            "institutions": [
                {"id": "hogar", "name": "Hogar", "steps": shelter, "channel": {"kind": "inbox"}},
                {"id": "receptor", "name": "Receptor", "steps": shelter, "channel": webhook},
                {"id": "poco", "name": "Poco", "steps": shelter, "channel": webhook,
                 "shares": ["given_name"]},
                {"id": "consulado", "name": "Consulado", "steps": shelter,
                 "channel": {"kind": "email", "address": ADDRESS}},
                {"id": "salud", "name": "Salud", "steps": ["health"],
                 "channel": {"kind": "inbox"}},
            ]
        }
    )  # fmt: skip


@dataclass
class Stored:
    """A case decided by the real domain, its events appended as the workflow would."""

    engine: Engine
    case: Case = field(default_factory=Case)
    appended: int = 0

    def do(self, kind: type[Any], **fields: Any) -> Stored:
        self.case.later(HOUR).do(kind, **fields)
        EventStore(self.engine).append(self.case.events[self.appended :])
        self.appended = len(self.case.events)
        return self

    @property
    def referral_id(self) -> UUID:
        referral_id = self.case.state.steps[Step.SHELTER].referral_id
        assert referral_id is not None
        return referral_id

    def input(self, referral_id: UUID | None = None) -> DeliverReferralInput:
        return DeliverReferralInput(referral_id=referral_id or self.referral_id, case_id=CASE_ID)


def referred(engine: Engine, institution: str) -> Stored:
    """A trafficking case, identified, its shelter step referred to `institution`."""
    stored = Stored(engine)
    stored.do(
        cmd.OpenCase, case_id=CASE_ID, crime_type=CrimeType.TRAFFICKING, person=PERSON,
        victim=VICTIM, assigned_to="ana",
        consent=cmd.Consent(assistance=True, data_sharing=True),
    )  # fmt: skip
    stored.do(
        cmd.AdvanceStep, step=Step.IDENTIFICATION, action=StepAction.COMPLETE,
        outcome=IdentificationOutcome.CONFIRMED_VICTIM,
    )  # fmt: skip
    return stored.do(
        cmd.AdvanceStep, step=Step.SHELTER, action=StepAction.REFER, institution=institution
    )


def activities(
    engine: Engine, registry: Registry, mailer: Mailer | None = None
) -> ReferralActivities:
    return ReferralActivities(
        registry, lambda case_id: stored_state(engine, case_id), mailer, DeliveryHealth(engine),
        clock=lambda: NOW,
    )  # fmt: skip


def run(deliver: ReferralActivities, inp: DeliverReferralInput, attempt: int = 1) -> Channel | None:
    env = ActivityEnvironment()
    env.info = replace(env.info, attempt=attempt)
    result: DeliverReferralResult = env.run(deliver.deliver_referral, inp)
    return result.channel


def failing(engine: Engine) -> dict[UUID, tuple[str, int, UUID]]:
    query = select(
        delivery_failures.c.delivery_id, delivery_failures.c.kind,
        delivery_failures.c.attempts, delivery_failures.c.case_id,
    )  # fmt: skip
    with engine.connect() as conn:
        return {row[0]: (row[1], row[2], row[3]) for row in conn.execute(query)}


# --- webhook -----------------------------------------------------------------------------


def test_a_webhook_retried_through_errors_and_a_timeout_is_accepted_once(
    engine: Engine, receiver: tuple[Receiver, str]
) -> None:
    server, url = receiver
    server.script = ["500", "500", "hang", "200"]
    stored = referred(engine, "receptor")
    deliver, inp = activities(engine, registry(url)), stored.input()

    marks = []
    for attempt, cause in [(1, "answered 500"), (2, "answered 500"), (3, "failed (ReadTimeout)")]:
        with pytest.raises(ReferralDeliveryError) as failed:
            run(deliver, inp, attempt)
        assert str(failed.value) == f"webhook of receptor {cause}"  # no body, no URL
        marks.append(failing(engine))
    assert run(deliver, inp, attempt=4) is Channel.WEBHOOK

    # Past the threshold (3 attempts) the referral is on the board; gone once delivered.
    assert marks[:2] == [{}, {}]
    assert marks[2] == {stored.referral_id: ("referral", 3, CASE_ID)}
    assert failing(engine) == {}
    # Every attempt was signed and carried the same key; the institution took it once
    # (during the hang), and the fourth attempt was recognised as a repeat.
    assert len(server.requests) == 4
    assert {r.signature for r in server.requests} == {"valid"}
    keys = {r.headers[IDEMPOTENCY_HEADER] for r in server.requests}
    assert keys == {str(stored.referral_id)}
    assert {r.headers[REFERRAL_HEADER] for r in server.requests} == keys
    assert {r.headers["Content-Type"] for r in server.requests} == {"application/json"}
    assert len({r.body for r in server.requests}) == 1
    assert list(server.accepted) == [str(stored.referral_id)]


def test_the_webhook_payload_holds_only_the_shared_fields(
    engine: Engine, receiver: tuple[Receiver, str]
) -> None:
    server, url = receiver
    deliver = activities(engine, registry(url))
    stored = referred(engine, "receptor")
    assert run(deliver, stored.input()) is Channel.WEBHOOK
    body = server.requests[0].json
    assert body["person"] == {
        "given_name": "Rosa", "family_name": "Peña", "sex": "female", "nationality": "VE",
        "languages": ["es"],
    }  # fmt: skip
    assert set(body["person"]) == {f.value for f in DEFAULT_SHARED}
    assert set(body) == {"referral_id", "institution", "step", "referred_at", "due_at", "person"}
    assert body["referral_id"] == str(stored.referral_id)
    assert body["due_at"] == stored.case.state.steps[Step.SHELTER].due_at.isoformat()
    assert str(CASE_ID) not in server.requests[0].body.decode()

    stored.do(cmd.RedirectReferral, referral_id=stored.referral_id, institution="poco",
              reason="closer to the person")  # fmt: skip
    assert run(deliver, stored.input()) is Channel.WEBHOOK
    assert server.requests[1].json["person"] == {"given_name": "Rosa"}


def test_a_final_or_delivered_referral_is_not_sent_and_leaves_the_board(
    engine: Engine, receiver: tuple[Receiver, str]
) -> None:
    server, url = receiver
    deliver = activities(engine, registry(url))
    stored = referred(engine, "receptor")
    health = DeliveryHealth(engine)
    health.failing(stored.referral_id, case_id=CASE_ID, kind="referral", at=NOW, attempts=5,
                   error="ReferralDeliveryError: webhook of receptor answered 503")  # fmt: skip

    revoked = stored.input()
    stored.do(cmd.RevokeReferral, referral_id=revoked.referral_id, reason="no longer needed")
    assert run(deliver, revoked, attempt=6) is None
    assert failing(engine) == {}

    stored.do(cmd.AdvanceStep, step=Step.SHELTER, action=StepAction.REFER, institution="receptor")
    stored.do(cmd.RecordReferralDelivered, referral_id=stored.referral_id, channel=Channel.WEBHOOK)
    assert run(deliver, stored.input()) is None
    assert run(deliver, DeliverReferralInput(referral_id=uuid4(), case_id=CASE_ID)) is None
    assert run(deliver, DeliverReferralInput(referral_id=uuid4(), case_id=uuid4())) is None
    assert server.requests == []


def test_an_institution_gone_from_the_registry_fails_retryably_and_shows(engine: Engine) -> None:
    deliver = activities(engine, registry())
    stored = referred(engine, "desaparecida")
    for attempt in (1, 2, 3):
        with pytest.raises(ReferralDeliveryError, match="desaparecida is not in the registry"):
            run(deliver, stored.input(), attempt)
    assert failing(engine) == {stored.referral_id: ("referral", 3, CASE_ID)}


def test_an_inbox_institution_needs_nothing_sent(engine: Engine) -> None:
    stored = referred(engine, "hogar")
    assert run(activities(engine, registry()), stored.input()) is Channel.INBOX


# --- email -------------------------------------------------------------------------------


def only(handler: Handler) -> EmailMessage:
    assert len(handler.messages) == 1
    return handler.messages[0]


def test_an_email_referral_arrives_once_with_the_minimal_data(
    engine: Engine, smtp: tuple[Handler, int]
) -> None:
    handler, port = smtp
    mailer = Mailer("127.0.0.1", port=port, sender="amparo@amparo.example")
    stored = referred(engine, "consulado")
    assert run(activities(engine, registry(), mailer), stored.input()) is Channel.EMAIL

    message = only(handler)
    text = message.get_content()
    assert message["To"] == ADDRESS
    assert message["Message-ID"] == mailer.message_id(stored.referral_id, ADDRESS)
    assert str(stored.referral_id) in message["Subject"]
    assert "Rosa" not in message["Subject"]
    for shown in ("Rosa", "Peña", "VE", "female", "alojamiento / shelter"):
        assert shown in text
    for hidden in ("1994", "sexual", "trafficking", str(CASE_ID)):
        assert hidden not in text
    assert f"POST /api/v1/referrals/{stored.referral_id}/answer" in text

    revoked = stored.input()
    stored.do(cmd.RevokeReferral, referral_id=revoked.referral_id, reason="no longer needed")
    assert run(activities(engine, registry(), mailer), revoked) is None
    assert len(handler.messages) == 1


def test_email_refused_or_unconfigured_fails_retryably_until_it_goes(
    engine: Engine, smtp: tuple[Handler, int]
) -> None:
    handler, port = smtp
    stored = referred(engine, "consulado")
    with pytest.raises(ReferralDeliveryError, match=r"^AMPARO_SMTP_HOST is not set"):
        run(activities(engine, registry(), mailer=None), stored.input())

    deliver = activities(engine, registry(), Mailer("127.0.0.1", port=port, sender="a@b.example"))
    handler.data_answer = "451 4.3.0 try again later"
    for attempt in (2, 3):
        with pytest.raises(MailError, match="451"):
            run(deliver, stored.input(), attempt)
    assert set(failing(engine)) == {stored.referral_id}
    handler.data_answer = None
    assert run(deliver, stored.input(), attempt=4) is Channel.EMAIL
    assert failing(engine) == {}
    assert len(handler.messages) == 1

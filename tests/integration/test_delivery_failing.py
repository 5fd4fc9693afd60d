"""`delivery_failing` on the board while emails keep bouncing off a real SMTP server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from sqlalchemy import Engine
from temporalio.testing import ActivityEnvironment

from activities.models import NotifyInput
from activities.notifications import NotificationActivities
from amparo.mailer import Mailer, MailError
from amparo.users import Role, UserDirectory
from domain import CaseState, decide
from domain import commands as cmd
from store.deliveries import DeliveryHealth
from store.event_store import EventStore
from store.notifications import Inbox
from store.supervision import SupervisionReads
from tests.integration.conftest import free_port
from tests.integration.test_notify_activity import Handler

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    handler, port = Handler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def open_case(engine: Engine) -> uuid.UUID:
    opening = cmd.OpenCase(
        command_id=uuid.uuid4(), actor="ana", at=NOW, case_id=uuid.uuid4(),
        crime_type="trafficking", assigned_to="ana", institution="pett",
        person={"given_name": "R", "family_name": "P", "sex": "female", "nationality": "VE"},
    )  # fmt: skip
    EventStore(engine).append(decide(CaseState(), opening))
    return opening.case_id


def reasons(engine: Engine, case_id: uuid.UUID) -> set[str]:
    items = SupervisionReads(engine).stuck("pett", NOW, limit=200).items
    return {i.reason for i in items if i.case_id == case_id}


def test_delivery_failing_while_smtp_refuses_and_gone_once_it_accepts(
    engine: Engine, smtp: tuple[Handler, int]
) -> None:
    handler, port = smtp
    users = UserDirectory(engine, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    users.add("sofia", role=Role.SUPERVISOR, password="x" * 12, institution="pett",
              email="sofia@example.org")  # fmt: skip
    case_id = open_case(engine)
    activities = NotificationActivities(
        Inbox(engine), users, Mailer("127.0.0.1", port=port, sender="amparo@example.org"),
        clock=lambda: NOW, health=DeliveryHealth(engine),
    )  # fmt: skip
    notice = NotifyInput(
        notification_id=uuid.uuid4(), case_id=case_id, kind="step_overdue",
        params={"step": "shelter"}, to_supervisors_of="pett",
    )  # fmt: skip
    env = ActivityEnvironment()
    env.info = replace(env.info, start_to_close_timeout=timedelta(minutes=1))
    handler.data_answer = "451 4.3.0 try again later"
    for attempt in (1, 2, 3, 4):
        env.info = replace(env.info, attempt=attempt)
        with contextlib.suppress(MailError):
            env.run(activities.notify, notice)
        failing = "delivery_failing" in reasons(engine, case_id)
        assert failing == (attempt >= 3), attempt  # one failure is noise; three are stuck
    handler.data_answer = None
    env.info = replace(env.info, attempt=5)
    env.run(activities.notify, notice)
    assert "delivery_failing" not in reasons(engine, case_id)
    assert handler.to() == ["sofia@example.org"]

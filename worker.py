"""The Temporal worker: the only place where workflows and activities meet their dependencies."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.events import EventActivities
from activities.notifications import NotificationActivities
from activities.referrals import ReferralActivities
from amparo.institutions import registry_for
from amparo.logging import temporal_context_as_fields
from amparo.mailer import Mailer
from amparo.settings import Settings
from amparo.temporal import connect
from amparo.users import UserDirectory
from amparo.wiring import event_store
from store.case_state import stored_state
from store.db import make_engine
from store.deliveries import DeliveryHealth
from store.event_store import EventStore
from store.notifications import Inbox
from workflows.case import ProtectionCaseWorkflow
from workflows.visa import VisaRenewalWorkflow

log = structlog.get_logger(__name__)

WORKFLOWS = [ProtectionCaseWorkflow, VisaRenewalWorkflow]

# Pass our pure model packages through the sandbox: re-importing them per workflow run
# costs time and memory and buys nothing (they hold no global mutable state).
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "domain",
        "activities.models",
        "workflows.contracts",
        "workflows.search_attributes",
        "structlog",
    )
)


def build_worker(
    client: Client,
    settings: Settings,
    store: EventStore,
    *,
    engine: Engine | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    """A worker for case workflows, with the event store behind its append activity.

    `engine` is the database of the inbox and the user directory the notify activity
    uses (default: a new engine on the configured database). With `max_cached_workflows`
    0 every task replays its history: a worker that remembers nothing between tasks.
    """
    temporal_context_as_fields()
    events = EventActivities(store)
    engine = engine or make_engine(settings.effective_database_url)
    notifications = _notifications(settings, engine)
    referrals = _referrals(settings, engine, store)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[events.append_events, notifications.notify, referrals.deliver_referral],
        activity_executor=ThreadPoolExecutor(max_workers=8, thread_name_prefix="activity"),
        workflow_runner=SANDBOX,
        max_cached_workflows=max_cached_workflows,
        # A crashed worker's cached cases move to another worker after this, not 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
    )


def _notifications(settings: Settings, engine: Engine) -> NotificationActivities:
    """The notify activity: email only when `AMPARO_SMTP_HOST` is set."""
    return NotificationActivities(
        Inbox(engine),
        UserDirectory(engine),
        Mailer.from_settings(settings),
        health=DeliveryHealth(engine),
    )


def _referrals(settings: Settings, engine: Engine, store: EventStore) -> ReferralActivities:
    """Referral delivery over the registry's channels (email only when SMTP is set)."""
    return ReferralActivities(
        registry_for(settings),
        lambda case_id: stored_state(engine, case_id, store.keys),
        Mailer.from_settings(settings),
        DeliveryHealth(engine),
        api_url=settings.api_url,
    )


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then finish the tasks in hand and leave cleanly."""
    client = await connect(settings, retry_for=300)
    engine = make_engine(settings.effective_database_url)
    worker = build_worker(client, settings, event_store(engine, settings), engine=engine)
    log.info("worker started", task_queue=settings.task_queue)
    async with worker:
        await stop.wait()
    engine.dispose()
    log.info("worker stopped")

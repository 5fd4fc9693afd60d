"""Referral delivery in the case workflow, on the time-skipping server: retried across
continue-as-new until the institution takes it, recorded once; unanswered, overdue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from amparo.cases import CaseCommands
from amparo.settings import Settings
from amparo.temporal import data_converter
from amparo.wiring import event_store
from domain import commands as cmd
from domain.vocabulary import ReferralState, Step, StepState
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade
from store.referrals import ReferralReads
from tests.support.webhook_receiver import Receiver, serving
from tests.workflows.conftest import TEST_SERVER, CaseHarness, add_search_attributes
from tests.workflows.test_case_workflow import NOW, opening, save_history, step
from worker import build_worker
from workflows.contracts import case_workflow_id

SECRET = "workflow-tests-webhook-secret"


def registry(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "institutions.toml"
    path.write_text(
        f"""
[[institution]]
id = "refugio-webhook"
name = "Refugio con sistema propio"
steps = ["shelter"]
channel = {{ kind = "webhook", url = "{url}", secret = "{SECRET}", timeout_seconds = 2 }}
"""
    )
    return path


@dataclass
class Running:
    commands: CaseCommands
    store: EventStore
    env: WorkflowEnvironment


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    institution = Receiver(SECRET)
    with serving(institution) as url:
        yield institution, url


@pytest.fixture
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of its own: an activity attempt cut off by continue-as-new
    keeps the shared one from skipping time for the tests after (a test-server quirk)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=data_converter()
    )
    await add_search_attributes(env)
    yield env
    await env.shutdown()


async def test_a_delivery_outlives_continue_as_new_and_is_recorded_once(
    own_env: WorkflowEnvironment, tmp_path: Path, receiver: tuple[Receiver, str]
) -> None:
    ts_env = own_env
    institution, url = receiver
    institution.script = ["500"] * 4  # down for a while, then takes it
    db = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(db)
    engine = make_engine(db)
    settings = Settings(
        task_queue=f"tq-{uuid.uuid4()}",
        database_url=db,
        data_dir=tmp_path,
        institutions_file=registry(tmp_path, url),
    )
    store = event_store(engine, settings)
    # A run continues as new after three commands: the referral's is the third.
    commands = CaseCommands(
        ts_env.client,
        task_queue=settings.task_queue,
        max_updates_per_run=3,
        delivery_backoff_seconds=0.1,  # the server skips timers, not the retries' backoff
    )
    async with build_worker(ts_env.client, settings, store, engine=engine):
        open_cmd = opening()
        case_id = open_cmd.case_id
        await commands.open(open_cmd)
        handle = ts_env.client.get_workflow_handle(case_workflow_id(case_id))
        first_run = (await handle.describe()).run_id
        await commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))
        await commands.send(case_id, step("shelter", "refer", institution="refugio-webhook"))
        for _ in range(200):
            types = [e.type for e in store.read_stream(case_id)]
            if "ReferralDelivered" in types:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(
                f"never delivered; the institution saw {len(institution.requests)}"
            )
        assert (await handle.describe()).run_id != first_run, "it never continued as new"
        first = ts_env.client.get_workflow_handle(case_workflow_id(case_id), run_id=first_run)
        history = await first.fetch_history()
        assert (
            history.events[-1].event_type
            is EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        )
        await commands.send(case_id, step("shelter", "start"))
        state = await commands.current(case_id)
        await handle.terminate()
    types = [e.type for e in store.read_stream(case_id)]
    assert types.count("ReferralDelivered") == 1 and types[-1] == "StepStarted"
    referral = next(iter(state.referrals.values()))
    assert referral.state is ReferralState.DELIVERED
    assert list(institution.accepted) == [str(referral.referral_id)]
    assert {r.signature for r in institution.requests} == {"valid"}
    assert len(institution.requests) == 5
    engine.dispose()


async def test_an_unanswered_referral_becomes_overdue_like_any_step(harness: CaseHarness) -> None:
    h = harness
    open_cmd = opening()
    case_id = open_cmd.case_id
    await h.commands.open(open_cmd)
    await h.commands.send(case_id, step("identification", "complete", outcome="confirmed_victim"))
    await h.commands.send(case_id, step("shelter", "refer", institution="hogar-oblatas"))
    await h.env.sleep(timedelta(days=1, hours=1))  # the shelter's SLA is one day
    state = await h.commands.current(case_id)
    shelter = state.steps[Step.SHELTER]
    assert (shelter.state, shelter.overdue) == (StepState.REFERRED, True)
    (referral,) = state.referrals.values()
    assert referral.state is ReferralState.DELIVERED  # hogar's inbox took it at once
    summary = ReferralReads(h.engine).get(referral.referral_id)
    assert summary is not None and summary.overdue
    answer = cmd.AnswerReferral(
        command_id=uuid.uuid4(),
        actor="hermana.lucia",
        at=NOW,
        referral_id=referral.referral_id,
        institution="hogar-oblatas",
        decision="completed",
    )
    await h.commands.send(case_id, answer)
    await save_history(h, case_id, "referral_answered")
    types = [e.type for e in h.store.read_stream(case_id)]
    assert types[-3:] == ["StepOverdue", "ReferralAnswered", "StepCompleted"]

"""Workflow tests on Temporal's time-skipping test server, with a real SQLite event store."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from amparo.cases import CaseCommands
from amparo.settings import Settings
from amparo.temporal import data_converter
from amparo.wiring import event_store
from domain import commands as cmd
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade
from worker import build_worker
from workflows import search_attributes as sa
from workflows.contracts import CommandResult, case_workflow_id, visa_workflow_id

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture(scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=data_converter()
    )
    await add_search_attributes(env)
    yield env
    await env.shutdown()


async def add_search_attributes(env: WorkflowEnvironment) -> None:
    """Register Amparo's search attributes, as `amparo dev` does on the dev server."""
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in sa.ALL
            },
        )
    )


@dataclass
class CaseHarness:
    """A running worker on a fresh task queue, its store, and a command gateway."""

    env: WorkflowEnvironment
    store: EventStore
    engine: Engine
    commands: TrackedCommands
    task_queue: str
    worker_stop: Callable[[], Awaitable[None]]  # the test then ends its cases itself


@pytest.fixture
async def harness(ts_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[CaseHarness]:
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    engine = make_engine(url)
    store = event_store(engine, Settings(data_dir=tmp_path))
    settings = Settings(task_queue=f"tq-{uuid.uuid4()}", database_url=url)
    commands = TrackedCommands(ts_env.client, task_queue=settings.task_queue)
    async with contextlib.AsyncExitStack() as worker:
        await worker.enter_async_context(
            build_worker(ts_env.client, settings, store, engine=engine)
        )
        stopped = False

        async def worker_stop() -> None:
            nonlocal stopped
            stopped = True
            await worker.aclose()

        yield CaseHarness(ts_env, store, engine, commands, settings.task_queue, worker_stop)
        if not stopped:
            await commands.terminate_all()
    engine.dispose()


class TrackedCommands(CaseCommands):
    """Remembers the cases a test opened, to end them with the test.

    The time-skipping server does not skip time while another test's workflow waits on an
    activity whose worker is gone, so every test leaves nothing running behind it.
    """

    def __init__(self, client: Client, *, task_queue: str) -> None:
        super().__init__(client, task_queue=task_queue)
        self._client_ = client
        self.opened: list[UUID] = []

    async def open(self, command: cmd.OpenCase) -> CommandResult:
        self.opened.append(command.case_id)
        return await super().open(command)

    async def terminate_all(self) -> None:
        for case_id in self.opened:
            with contextlib.suppress(Exception):
                state = await self.current(case_id)
                for visa_id in state.visas:  # visa workflows outlive their case's run
                    with contextlib.suppress(RPCError):
                        await self._client_.get_workflow_handle(
                            visa_workflow_id(visa_id)
                        ).terminate()
            with contextlib.suppress(RPCError):
                await self._client_.get_workflow_handle(case_workflow_id(case_id)).terminate()

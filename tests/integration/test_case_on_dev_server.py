"""The case workflow on the real dev server: a refused command leaves no trace at all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client

from amparo.cases import CaseCommands, CommandRefused
from amparo.devstack import DevServer
from amparo.settings import Settings
from amparo.temporal import data_converter
from domain import commands as cmd
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade
from worker import build_worker
from workflows.contracts import case_workflow_id


async def test_refused_command_leaves_history_and_store_unchanged(
    dev_server: DevServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    store = EventStore(make_engine(url))
    settings = Settings(task_queue=f"refuse-{uuid.uuid4()}", database_url=url)
    client = await Client.connect(dev_server.config.address, data_converter=data_converter())
    commands = CaseCommands(client, task_queue=settings.task_queue)
    now = datetime.now(UTC)
    opening = cmd.OpenCase(
        command_id=uuid.uuid4(),
        actor="ana",
        at=now,
        case_id=uuid.uuid4(),
        crime_type="smuggling",
        person={"given_name": "J", "family_name": "P", "sex": "male", "nationality": "HT"},
        assigned_to="ana",
    )
    async with build_worker(client, settings, store):
        await commands.open(opening)
        handle = client.get_workflow_handle(case_workflow_id(opening.case_id))
        before = (await handle.fetch_history()).events
        stored = store.read_stream(opening.case_id)
        start_shelter = cmd.AdvanceStep(
            command_id=uuid.uuid4(), actor="ana", at=now, step="shelter", action="start"
        )
        with pytest.raises(CommandRefused) as refused:
            await commands.send(opening.case_id, start_shelter)
        assert refused.value.code == "step_not_open"
        after = (await handle.fetch_history()).events
    assert len(after) == len(before)
    assert store.read_stream(opening.case_id) == stored

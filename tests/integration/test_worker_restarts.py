"""Real dev server + SQLite: cases keep moving while the worker is killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from amparo.cases import CaseCommands
from amparo.devstack import DevServer
from amparo.temporal import data_converter
from domain import CaseState, decide, evolve_all
from domain import commands as cmd
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade

CASES = 20
KILLS = 5


class WorkerProcess:
    """`amparo worker` as a child process, killable with SIGKILL like a crashed host."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = env
        self._log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self._log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "amparo.cli.main", "worker"],
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def path_of(case_id: uuid.UUID, rng: random.Random) -> list[cmd.OpenCase | cmd.AdvanceStep]:
    now = datetime.now(UTC)

    def base() -> dict[str, object]:
        return {"command_id": uuid.uuid4(), "actor": "ana", "at": now}

    opening = cmd.OpenCase.model_validate(
        base()
        | {
            "case_id": case_id,
            "crime_type": rng.choice(["trafficking", "smuggling"]),
            "person": {"given_name": "X", "family_name": "Y", "sex": "male", "nationality": "HT"},
            "assigned_to": "ana",
            "consent": {"assistance": True, "data_sharing": True},
        }
    )
    steps: list[cmd.OpenCase | cmd.AdvanceStep] = [opening]
    steps.append(
        cmd.AdvanceStep.model_validate(
            base() | {"step": "identification", "action": "complete", "outcome": "smuggled_person"}
        )
    )
    for name in ("shelter", "health", "legal", "documentation"):
        steps.append(cmd.AdvanceStep.model_validate(base() | {"step": name, "action": "start"}))
        steps.append(cmd.AdvanceStep.model_validate(base() | {"step": name, "action": "complete"}))
    return steps


async def send_until_done(
    commands: CaseCommands, case_id: uuid.UUID, command: cmd.OpenCase | cmd.AdvanceStep
) -> None:
    """Retry the same command (same id) through worker outages: Temporal deduplicates it."""
    for _ in range(60):
        try:
            if isinstance(command, cmd.OpenCase):
                await commands.open(command)
            else:
                await commands.send(case_id, command)
            return
        except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
            await asyncio.sleep(0.5)
    raise AssertionError("command never went through")


def expected_types(path: list[cmd.OpenCase | cmd.AdvanceStep]) -> list[str]:
    state, types = CaseState(), []
    for command in path:
        events = decide(state, command)
        state = evolve_all(state, events)
        types += [e.type for e in events]
    return types


@pytest.mark.timeout(240)
async def test_cases_survive_worker_kills(dev_server: DevServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    task_queue = f"kill-{uuid.uuid4()}"
    env = os.environ | {
        "AMPARO_DATABASE_URL": url,
        "AMPARO_TEMPORAL_ADDRESS": dev_server.config.address,
        "AMPARO_TASK_QUEUE": task_queue,
        "AMPARO_LOG_FORMAT": "json",
    }
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    client = await Client.connect(dev_server.config.address, data_converter=data_converter())
    commands = CaseCommands(client, task_queue=task_queue)
    rng = random.Random(20)
    paths = {case_id: path_of(case_id, rng) for case_id in (uuid.uuid4() for _ in range(CASES))}

    async def walk(case_id: uuid.UUID) -> None:
        for command in paths[case_id]:
            await send_until_done(commands, case_id, command)

    async def killer(done: asyncio.Event) -> None:
        # A kill at a random moment every few seconds; each costs the in-flight workflow
        # tasks a timeout before another worker takes them over, so leave room to progress.
        while not done.is_set() and worker.kills < KILLS:
            await asyncio.sleep(rng.uniform(1.5, 4.0))
            worker.kill()
            await asyncio.sleep(rng.uniform(0.1, 0.5))
            worker.start()

    done = asyncio.Event()
    chaos = asyncio.create_task(killer(done))
    try:
        await asyncio.gather(*(walk(case_id) for case_id in paths))
    finally:
        done.set()
        await chaos
        worker.stop()

    assert worker.kills >= 3, f"only {worker.kills} kills before the cases finished"
    store = EventStore(make_engine(url))
    for case_id, path in paths.items():
        events = store.read_stream(case_id)
        assert [e.version for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events] == expected_types(path)
        assert len({e.event_id for e in events}) == len(events)

"""The stack under faults: a real dev server, `amparo worker` as a killable process, the API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from amparo.devstack import DevServer, DevServerConfig
from amparo.serving import ApiServer
from amparo.settings import Settings
from amparo.users import Role, UserDirectory
from amparo.wiring import event_store
from api.app import build_services, create_app
from api.deps import Services
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade
from tests.integration.conftest import free_port

PASSWORD = "correct horse battery"


class WorkerProcess:
    """`amparo worker` as a child process, killable with SIGKILL like a crashed host."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self._env = env
        self._log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.starts_seen = 0

    def start(self) -> None:
        with self._log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "amparo.cli.main", "worker"],
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def started(self, timeout: float = 60) -> None:
        """Wait until the current process has logged that it is polling."""
        assert self.proc is not None
        starts = self._log.read_text().count('"worker started"') if self._log.exists() else 0
        expected = self.starts_seen + 1
        deadline = asyncio.get_running_loop().time() + timeout
        while starts < expected:
            assert self.proc.poll() is None, "the worker exited"
            assert asyncio.get_running_loop().time() < deadline, "the worker did not start"
            await asyncio.sleep(0.1)
            starts = self._log.read_text().count('"worker started"')
        self.starts_seen = starts

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


@dataclass
class ChaosStack:
    """Everything a fault test needs to break and to check."""

    server: DevServer
    worker: WorkerProcess
    services: Services
    store: EventStore
    settings: Settings
    base_url: str
    token: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )


@pytest.fixture
async def chaos(tmp_path: Path) -> AsyncIterator[ChaosStack]:
    server = DevServer(
        DevServerConfig(data_dir=tmp_path / "temporal", port=free_port(), headless=True)
    )
    await server.start()
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url,
        temporal_address=server.config.address,
        task_queue=f"chaos-{uuid.uuid4()}",
        data_dir=tmp_path,
        command_timeout_seconds=5,
    )
    env = os.environ | {
        "AMPARO_DATABASE_URL": url,
        "AMPARO_TEMPORAL_ADDRESS": server.config.address,
        "AMPARO_TASK_QUEUE": settings.task_queue,
        "AMPARO_DATA_DIR": str(tmp_path),
        "AMPARO_LOG_FORMAT": "json",
    }
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    await worker.started()
    services = await build_services(settings)
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    services = replace(services, users=UserDirectory(services.reads.engine, hasher=quick))
    ana = services.users.add("ana", role=Role.CASEWORKER, password=PASSWORD, institution="pett")
    token = services.users.issue_token(ana).access_token
    port = free_port()
    api = ApiServer(create_app(services), host="127.0.0.1", port=port)
    serving = asyncio.create_task(api.serve())
    while not api.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    stack = ChaosStack(
        server, worker, services, event_store(make_engine(url), settings), settings,
        f"http://127.0.0.1:{port}", token,
    )  # fmt: skip
    try:
        yield stack
    finally:
        api.stop()
        await serving
        worker.stop()
        await server.stop()


def assert_exactly_once(store: EventStore, case_id: uuid.UUID, expected: list[str]) -> None:
    """The case's stream holds exactly the expected events, once each, versions gapless."""
    events = store.read_stream(case_id)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert len({e.event_id for e in events}) == len(events)
    assert [e.type for e in events] == expected

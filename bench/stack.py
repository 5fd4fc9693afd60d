"""The real stack, in-process, for benchmarks: dev server, SQLite store, worker, API, a user.

    async with running_stack() as stack:
        token = await stack.sign_in()
        async with stack.http(token) as http: ...        # the HTTP API
        await stack.commands.send(case_id, command)      # the Temporal client path
        await stack.client.start_workflow(BareWorkflow.run, ..., task_queue=stack.bare_queue)

Everything is the project's own wiring (`DevServer`, `build_services`, `build_worker`,
`ApiServer`), on free ports in a temporary directory that is removed afterwards. The only
change from production is a cheap argon2 hasher for the benchmark user, as in the API tests.
A worker for `bench.baseline.BareWorkflow` runs beside it on its own task queue, so the
bare-Temporal baseline shares the dev server, the process and the client with Amparo.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import Engine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from amparo.cases import CaseCommands
from amparo.devstack import DevServer, DevServerConfig
from amparo.keyring import master_keyring
from amparo.logging import configure_logging
from amparo.serving import ApiServer
from amparo.settings import Settings
from amparo.temporal import data_converter
from amparo.users import Role, UserDirectory
from amparo.wiring import event_store
from api.app import build_services, create_app
from api.deps import Services
from bench.baseline import BareWorkflow
from domain import commands as cmd
from domain.person import Person, Sex
from domain.sla import SlaPolicy
from domain.vocabulary import CrimeType
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade
from worker import build_worker

USER = "bench"
PASSWORD = "bench-password-123"
INSTITUTION = "pett"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """What a benchmark drives; `api_url` is None when the stack runs without the API."""

    data_dir: Path
    server: DevServer
    settings: Settings
    services: Services
    engine: Engine
    store: EventStore
    bare_queue: str
    api_url: str | None
    worker_pid: int | None = None  # the `amparo worker` subprocess, when there is one
    api_pid: int | None = None  # the `amparo api` subprocess, when there is one

    @property
    def python_pids(self) -> list[int]:
        """This process and the Amparo subprocesses: whose CPU a command costs in Python."""
        return [os.getpid(), *(pid for pid in (self.worker_pid, self.api_pid) if pid)]

    @property
    def client(self) -> Client:
        return self.services.temporal

    @property
    def commands(self) -> CaseCommands:
        return self.services.commands

    def worker_env(self) -> dict[str, str]:
        """The environment for an `amparo worker` subprocess serving this stack."""
        return _worker_env(self.settings)

    def http(self, token: str | None = None, *, connections: int = 100) -> httpx.AsyncClient:
        """A client of the API (`/api/v1` is the base), signed in when given a token."""
        if self.api_url is None:
            raise RuntimeError("this stack runs without the API")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=120, limits=limits)

    async def sign_in(self, username: str = USER, password: str = PASSWORD) -> str:
        async with self.http() as anonymous:
            answer = await anonymous.post(
                "/auth/token", data={"username": username, "password": password}
            )
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token


def _worker_env(s: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "AMPARO_DATA_DIR": str(s.data_dir),
        "AMPARO_DATABASE_URL": s.effective_database_url,
        "AMPARO_TEMPORAL_ADDRESS": s.temporal_address,
        "AMPARO_TEMPORAL_NAMESPACE": s.temporal_namespace,
        "AMPARO_TASK_QUEUE": s.task_queue,
        "AMPARO_LOG_LEVEL": "WARNING",
        "AMPARO_LOG_FORMAT": "json",
    }


def amparo_command() -> list[str]:
    """`amparo` from this interpreter's environment."""
    script = Path(sys.executable).parent / "amparo"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "amparo.cli.main"]


def spawn(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    """`amparo ARGS…` (`worker`, `api --port P`) for these settings, in its own process
    (stop it with SIGTERM)."""
    return subprocess.Popen(
        [*amparo_command(), *args],
        env=_worker_env(settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


async def wait_for_api(url: str, proc: subprocess.Popen[bytes], limit: float = 120) -> None:
    """Until the API at `url` (its `/api/v1` base) answers its health check."""
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"amparo api exited with {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            if time.perf_counter() - began > limit:
                raise TimeoutError(f"amparo api not answering after {limit:g} s")
            await asyncio.sleep(0.1)


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_for_poller(
    client: Client, settings: Settings, queue: str, limit: float = 120
) -> float:
    """Seconds until a worker polls `queue` for workflow tasks."""
    request = DescribeTaskQueueRequest(
        namespace=settings.temporal_namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    began = time.perf_counter()
    while not (await client.workflow_service.describe_task_queue(request)).pollers:
        if time.perf_counter() - began > limit:
            raise TimeoutError(f"no worker polls {queue} after {limit:g} s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - began


def open_command(n: int, *, actor: str = USER) -> cmd.OpenCase:
    """An OpenCase as the API would build it (both consents, so steps can be referred)."""
    return cmd.OpenCase(
        command_id=uuid.uuid4(),
        actor=actor,
        at=datetime.now(UTC),
        case_id=uuid.uuid4(),
        crime_type=CrimeType.SMUGGLING,
        person=Person(
            given_name=f"Bench{n}",
            family_name="Case",
            sex=Sex.MALE,
            birth_date=date(1990, 1, 1),
            nationality="HT",
        ),
        assigned_to=actor,
        institution=INSTITUTION,
        consent=cmd.Consent(assistance=True, data_sharing=True),
        sla=SlaPolicy(),
    )


def open_body(n: int) -> dict[str, Any]:
    """The same case as a `POST /cases` body."""
    return {
        "crime_type": "smuggling",
        "person": {
            "given_name": f"Bench{n}",
            "family_name": "Case",
            "sex": "male",
            "birth_date": "1990-01-01",
            "nationality": "HT",
        },
        "consent_assistance": True,
        "consent_data_sharing": True,
    }


@asynccontextmanager
async def running_stack(
    *,
    api: bool = True,
    worker: bool = True,
    bare_worker: bool = True,
    data_dir: Path | None = None,
    keep: bool = False,
    server_args: tuple[str, ...] = (),
    worker_process: bool = False,
    api_process: bool = False,
    encryption: bool = True,
) -> AsyncIterator[Stack]:
    """Bring the stack up; everything started here is stopped on the way out.

    `worker=False` leaves the case task queue without a worker (start `amparo worker` with
    `Stack.worker_env()` instead); `data_dir` reuses a directory (its dev-server SQLite file
    and Amparo database survive); `keep` leaves a temporary directory in place;
    `server_args` go to `temporal server start-dev` (e.g. `--dynamic-config-value K=V`);
    `worker_process` runs the case worker as an `amparo worker` subprocess (as in production,
    where API and worker are separate processes) instead of in this process, and
    `api_process` the API as an `amparo api` subprocess (the benchmark's HTTP client stays
    here, as a user's would be elsewhere). The master key
    is made in the directory (unless `AMPARO_MASTER_KEYS` gives one); `encryption=False`
    swaps the stack's client for one without the payload codec and stores personal fields
    unsealed (the cost of encryption).
    """
    if (worker_process or api_process) and not encryption:
        raise ValueError("Amparo's own processes always encrypt: run them in-process")
    configure_logging("WARNING", "json")  # logs to stderr: stdout is for the JSON results
    owned = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="amparo-bench-")) if data_dir is None else data_dir
    root.mkdir(parents=True, exist_ok=True)
    try:
        async with AsyncExitStack() as stack:
            server = DevServer(
                DevServerConfig(
                    data_dir=root / "temporal",
                    port=free_port(),
                    headless=True,
                    extra_args=server_args,
                )
            )
            await server.start()
            stack.push_async_callback(server.stop)
            url = f"sqlite:///{root / 'amparo.db'}"
            upgrade(url)
            settings = Settings(
                database_url=url,
                temporal_address=server.config.address,
                task_queue=f"bench-{uuid.uuid4()}",
                data_dir=root,
            )
            master_keyring(settings, create=True)
            services = await build_services(settings)
            if not encryption:
                plain = await Client.connect(
                    settings.temporal_address, data_converter=data_converter()
                )
                commands = CaseCommands.from_settings(plain, settings)
                services = replace(services, temporal=plain, commands=commands)
            # Cheap hashing for the benchmark user: the production parameters cost ~0.4 s.
            quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            services = replace(services, users=UserDirectory(services.reads.engine, hasher=quick))
            if services.users.get(USER) is None:
                services.users.add(USER, role=Role.CASEWORKER, password=PASSWORD,
                                   institution=INSTITUTION)  # fmt: skip
            engine = make_engine(url)
            stack.callback(engine.dispose)
            store = event_store(engine, settings, sealed=encryption)
            worker_pid = None
            if worker and worker_process:
                proc = spawn(settings, "worker")
                stack.callback(_stop_process, proc)
                await wait_for_poller(services.temporal, settings, settings.task_queue)
                worker_pid = proc.pid
            elif worker:
                await stack.enter_async_context(build_worker(services.temporal, settings, store))
            bare_queue = f"bench-bare-{uuid.uuid4()}"
            if bare_worker:
                await stack.enter_async_context(
                    Worker(services.temporal, task_queue=bare_queue, workflows=[BareWorkflow])
                )
            api_url, api_pid = None, None
            if api and api_process:
                port = free_port()
                api_url = f"http://127.0.0.1:{port}/api/v1"
                api_proc = spawn(settings, "api", "--port", str(port))
                stack.callback(_stop_process, api_proc)
                await wait_for_api(api_url, api_proc)
                api_pid = api_proc.pid
            elif api:
                port = free_port()
                http_server = ApiServer(create_app(services), host="127.0.0.1", port=port)
                serving = asyncio.create_task(http_server.serve())

                async def stop_api() -> None:
                    http_server.stop()
                    await serving

                stack.push_async_callback(stop_api)
                while not http_server.started:
                    if serving.done():
                        await serving  # raises why it could not start
                    await asyncio.sleep(0.02)
                api_url = f"http://127.0.0.1:{port}/api/v1"
            yield Stack(
                data_dir=root,
                server=server,
                settings=settings,
                services=services,
                engine=engine,
                store=store,
                bare_queue=bare_queue,
                api_url=api_url,
                worker_pid=worker_pid,
                api_pid=api_pid,
            )
    finally:
        if owned and not keep:
            with contextlib.suppress(OSError):
                shutil.rmtree(root)


# --- process measurements (psutil when installed, else /proc) ------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process."""
    try:
        import psutil  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {pid}") from None
    return int(psutil.Process(pid).memory_info().rss)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime

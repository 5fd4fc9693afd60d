"""The API over real parts: a Temporal dev server, a worker, SQLite, uvicorn on a free port."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from amparo.devstack import DevServer, DevServerConfig
from amparo.serving import ApiServer
from amparo.settings import Settings
from amparo.users import Role, UserDirectory
from amparo.wiring import event_store
from api.app import build_services, create_app
from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade
from worker import build_worker

PASSWORD = "correct horse battery"
TEST_REGISTRY = Path(__file__).parents[1] / "support" / "institutions.toml"
WEBHOOK_SECRET = "tests-only-webhook-secret-0001"  # refugio-webhook's, in TEST_REGISTRY
USERS = [  # username, role, institution
    ("ana", Role.CASEWORKER, "pett"),
    ("luis", Role.CASEWORKER, "pett"),
    ("carmen", Role.CASEWORKER, "migracion"),
    ("sofia", Role.SUPERVISOR, "pett"),
    ("miguel", Role.SUPERVISOR, "migracion"),
    ("hogar", Role.INSTITUTION, "hogar-oblatas"),
    ("refugio", Role.INSTITUTION, "casa-refugio"),
    ("analista", Role.ANALYST, None),
    ("admin", Role.ADMIN, None),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
async def api_dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    data = tmp_path_factory.mktemp("temporal")
    server = DevServer(DevServerConfig(data_dir=data, port=free_port(), headless=True))
    await server.start()
    yield server
    await server.stop()


@dataclass
class Api:
    """A running API with one signed-in client per demo role."""

    base_url: str
    users: UserDirectory
    store: EventStore
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, username: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[username]}"} if username else {}
        return httpx.AsyncClient(base_url=f"{self.base_url}/api/v1", headers=headers, timeout=30)

    async def sign_in(self, username: str) -> str:
        async with self.client() as anonymous:
            answer = await anonymous.post(
                "/auth/token", data={"username": username, "password": PASSWORD}
            )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        self.tokens[username] = token
        return token


@asynccontextmanager
async def running_api(dev_server: DevServer, tmp_path: Path, **changes: Any) -> AsyncIterator[Api]:
    """Amparo's API and worker on a fresh SQLite file, the USERS signed in; `changes` to
    the settings (the tests' registry and a short delivery backoff by default)."""
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    tuned: dict[str, Any] = {"institutions_file": TEST_REGISTRY, "delivery_backoff_seconds": 0.2}
    settings = Settings(
        database_url=url,
        temporal_address=dev_server.config.address,
        task_queue=f"api-{uuid.uuid4()}",
        data_dir=tmp_path,
        **(tuned | changes),
    )
    services = await build_services(settings)
    # Cheap password hashing in tests: the production parameters cost ~0.4 s a hash here.
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    services = replace(services, users=UserDirectory(services.reads.engine, hasher=quick))
    store = event_store(make_engine(url), settings)
    for name, role, institution in USERS:
        services.users.add(name, role=role, password=PASSWORD, institution=institution)
    port = free_port()
    server = ApiServer(create_app(services), host="127.0.0.1", port=port)
    async with build_worker(services.temporal, settings, store):
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        running = Api(f"http://127.0.0.1:{port}", services.users, store)
        for name, _, _ in USERS:
            await running.sign_in(name)
        yield running
        server.stop()
        await serving


@pytest.fixture
async def api(api_dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(api_dev_server, tmp_path) as running:
        yield running


def new_case(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "crime_type": "trafficking",
        "person": {
            "given_name": "Rosa",
            "family_name": "Peña",
            "sex": "female",
            "birth_date": "1990-04-02",
            "nationality": "VE",
        },
        "consent_assistance": True,
        "consent_data_sharing": True,
    }
    return body | changes


async def delivered(api: Api, referral_id: str, reader: str = "sofia") -> dict[str, Any]:
    """The referral once its delivery is recorded (to an inbox: right after it is stored)."""
    async with api.client(reader) as client:
        for _ in range(200):
            seen = await client.get(f"/referrals/{referral_id}")
            assert seen.status_code == 200, seen.text
            referral: dict[str, Any] = seen.json()
            if referral["delivered_at"] is not None:
                return referral
            await asyncio.sleep(0.05)
    raise AssertionError(f"referral {referral_id} never delivered")


def referral_of(case: dict[str, Any], step: str) -> str:
    """The live referral of `step` in a case as the API shows it."""
    found = next(s for s in case["steps"] if s["step"] == step)
    referral_id: str = found["referral_id"]
    return referral_id

"""After the demo's half-year (88 cases, their notes, visas and referrals) has run through
the real worker and dev server, no test person's name, birth date, note or visa number is
found in clear anywhere: not in Temporal's histories (as fetched, JSON and bytes), not in
the Temporal or Amparo SQLite files, not in the logs. The people allowed still read them.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from temporalio.client import Client

from amparo.cases import CaseCommands
from amparo.demo import build_plans, load_demo
from amparo.demo_users import ensure_demo_users
from amparo.devstack import DevServer
from amparo.logging import configure_logging
from amparo.settings import Settings
from amparo.temporal import connect
from amparo.users import UserDirectory
from amparo.wiring import event_store, person_index
from domain import commands as cmd
from store.db import make_engine
from store.migrate import upgrade
from store.read_models import CaseReads
from tests.support.files import contents
from worker import build_worker
from workflows.contracts import case_workflow_id


def forms(secret: str) -> list[bytes]:
    """The secret as text, and as the start of its base64 (how a payload shows in JSON)."""
    raw = secret.encode()
    return [raw, base64.b64encode(raw)[:8]]


def leaks(blob: bytes, secrets: set[str]) -> set[str]:
    return {s for s in secrets if any(form in blob for form in forms(s))}


@pytest.fixture
def json_logs() -> Iterator[None]:
    """Amparo's logging, as a deployment runs it, for this test only: the stream it writes
    to is closed after the test, so the handlers before it come back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("json_logs")
async def test_the_demo_leaves_no_personal_data_in_clear(
    dev_server: DevServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "amparo.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    ensure_demo_users(UserDirectory(engine))
    settings = Settings(
        task_queue=f"scan-{uuid.uuid4()}",
        database_url=url,
        data_dir=tmp_path,
        temporal_address=dev_server.config.address,
    )
    now = datetime.now(UTC)
    plans = build_plans(now)
    secrets: set[str] = set()
    for plan in plans:
        person = plan.opening.person
        secrets |= {person.family_name, person.birth_date.isoformat()}  # type: ignore[union-attr]
        if len(person.given_name) >= 5:  # shorter ones turn up by chance in base64
            secrets.add(person.given_name)
        for command in plan.commands:
            if isinstance(command, cmd.AdvanceStep) and command.note:
                secrets.add(command.note)
            if isinstance(command, cmd.AddNote):
                secrets.add(command.text)
            if isinstance(command, cmd.RegisterVisa):
                secrets.add(command.number)
    assert len(secrets) > 250  # names, birth dates, a note per person, visa numbers
    client = await connect(settings)  # encrypting, as the API, worker and CLI do
    commands = CaseCommands(client, task_queue=settings.task_queue)
    store = event_store(engine, settings)
    reads = CaseReads(engine, store, person_index(settings))
    async with build_worker(client, settings, store, engine=engine):
        summary = await load_demo(commands, lambda case_id: reads.get(case_id) is not None, now=now)
        assert summary.opened == len(plans)
        # The people allowed read them all; the name search finds "Peña" from "pena".
        for plan in plans:
            assert reads.person(plan.opening.case_id) == plan.opening.person
        pena = {p.opening.case_id for p in plans if "Peña" in p.opening.person.family_name}
        assert pena and reads.search("pena") == pena

        plain = await Client.connect(dev_server.config.address)  # no codec: what is stored
        for plan in plans:
            handle = plain.get_workflow_handle(case_workflow_id(plan.opening.case_id))
            history = await handle.fetch_history()
            blob = history.to_json().encode() + b"".join(
                e.SerializeToString() for e in history.events
            )
            assert not leaks(blob, secrets), f"in clear in {plan.opening.case_id}'s history"
    engine.dispose()

    amparo_files = sorted(tmp_path.glob("amparo.db*"))
    assert not leaks(contents(amparo_files), secrets), "Amparo's file"
    temporal = sorted(dev_server.config.data_dir.glob(dev_server.config.db_file.name + "*"))
    assert not leaks(contents(temporal), secrets), "Temporal's file"
    captured = capfd.readouterr()
    server_log = dev_server.config.log_file
    logs = (captured.out + captured.err).encode() + server_log.read_bytes()
    assert b"demo" in logs or b"case_id" in logs  # the logs were captured
    assert not leaks(logs, secrets), "the logs"

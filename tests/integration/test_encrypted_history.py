"""On a real Temporal dev server, a case's personal data exists only encrypted: not in its
workflow history, not in the server's SQLite file, while Amparo's own clients read it."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from amparo.cases import CaseCommands
from amparo.codec import ENCODING, EncryptionCodec
from amparo.devstack import DevServer
from amparo.keyring import master_keyring
from amparo.settings import Settings
from amparo.temporal import connect
from amparo.wiring import event_store
from domain import commands as cmd
from store.db import make_engine
from store.migrate import upgrade
from tests.support.files import contents
from worker import build_worker
from workflows.contracts import case_workflow_id

GIVEN, FAMILY, BORN = "Xiomara", "Quintanilla", date(1987, 11, 23)
SECRETS = [GIVEN, FAMILY, BORN.isoformat(), "23/11/1987"]


def encrypted_payloads(node: Any) -> Iterator[Payload]:
    """Every encrypted payload anywhere in a history's JSON."""
    if isinstance(node, dict):
        encoding = node.get("metadata", {}).get("encoding") if "data" in node else None
        if encoding == base64.b64encode(ENCODING).decode():
            yield json_format.ParseDict(node, Payload())
            return
        for value in node.values():
            yield from encrypted_payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from encrypted_payloads(value)


def assert_nowhere(blob: bytes, where: str) -> None:
    for secret in SECRETS:
        for form in (secret.encode(), base64.b64encode(secret.encode())[:8]):
            assert form not in blob, f"{secret!r} in {where}"


async def test_personal_data_reaches_temporal_only_encrypted(
    dev_server: DevServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        temporal_address=dev_server.config.address,
        task_queue=f"encrypted-{uuid.uuid4()}",
    )
    keyring = master_keyring(settings, create=True)
    client = await connect(settings)  # what the API, the worker and the CLI use
    commands = CaseCommands(client, task_queue=settings.task_queue)
    case_id = uuid.uuid4()
    person = {
        "given_name": GIVEN,
        "family_name": FAMILY,
        "sex": "female",
        "birth_date": BORN.isoformat(),
        "nationality": "VE",
    }
    opening = cmd.OpenCase(
        command_id=uuid.uuid4(), actor="ana", at=datetime.now(UTC), case_id=case_id,
        crime_type="trafficking", person=person, assigned_to="ana",
    )  # fmt: skip
    note = cmd.AddNote(
        command_id=uuid.uuid4(), actor="ana", at=datetime.now(UTC),
        text=f"{GIVEN} {FAMILY} asked for a lawyer",
    )  # fmt: skip
    engine = make_engine(url)
    async with build_worker(client, settings, event_store(engine, settings), engine=engine):
        await commands.open(opening)
        await commands.send(case_id, note)
        state = await commands.current(case_id)  # a query, through the encrypting client
        assert state.person is not None
        assert (state.person.given_name, state.person.family_name) == (GIVEN, FAMILY)
        assert state.person.birth_date == BORN

        # What Temporal holds, read without the codec: ciphertext only.
        plain = await Client.connect(dev_server.config.address)
        history = await plain.get_workflow_handle(case_workflow_id(case_id)).fetch_history()
        raw = history.to_json()
        assert_nowhere(raw.encode(), "the history's JSON")
        assert_nowhere(b"".join(e.SerializeToString() for e in history.events), "the events")
        sealed = list(encrypted_payloads(json.loads(raw)))
        assert len(sealed) >= 4  # start, update, its result, the append activity, ...
        assert {p.metadata["encryption-key-id"] for p in sealed} == {keyring.current_id.encode()}
        # ... and the data is there, for the keys' holders.
        opened = b"".join(p.data for p in await EncryptionCodec(keyring).decode(sealed))
        assert GIVEN.encode() in opened and BORN.isoformat().encode() in opened
    engine.dispose()

    # The dev server's own database (and its write-ahead log) holds no plaintext either,
    # though it does hold the case: this is the file the server writes.
    files = sorted(dev_server.config.data_dir.glob(dev_server.config.db_file.name + "*"))
    stored = contents(files)
    assert case_workflow_id(case_id).encode() in stored
    assert_nowhere(stored, f"{dev_server.config.db_file} (and -wal)")

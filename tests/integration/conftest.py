"""Integration fixtures: a real Temporal dev server on free ports."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from amparo.devstack import DevServer, DevServerConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    server = DevServer(
        DevServerConfig(data_dir=tmp_path / "temporal", port=free_port(), headless=True)
    )
    await server.start()
    yield server
    await server.stop()

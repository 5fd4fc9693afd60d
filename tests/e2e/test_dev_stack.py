"""`amparo dev` as a user runs it: open and advance cases from the CLI, stop, start, resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

AMPARO = [sys.executable, "-m", "amparo.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """An `amparo dev` process on free ports, and the CLI pointed at it."""

    def __init__(self, data_dir: Path, *, demo: bool = False) -> None:
        self.data_dir = data_dir
        self.demo = demo  # `make run`'s `--demo`: the demo cases and users are loaded first
        self.port, self.ui_port, self.api_port = free_port(), free_port(), free_port()
        self.env = os.environ | {
            "AMPARO_DATA_DIR": str(data_dir),
            "AMPARO_TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "AMPARO_API_URL": f"http://127.0.0.1:{self.api_port}/api/v1",
            "AMPARO_LOG_FORMAT": "json",
        }
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        args = ["dev", "--data-dir", str(self.data_dir), "--temporal-port", str(self.port)]
        ports = ["--ui-port", str(self.ui_port), "--api-port", str(self.api_port)]
        self.proc = subprocess.Popen(
            [*AMPARO, *args, *ports, *(["--demo"] if self.demo else [])],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + (420 if self.demo else 60)
        for line in self.proc.stdout:
            if "Amparo is running" in line:
                return
            assert time.monotonic() < deadline, "amparo dev did not come up"
        raise AssertionError(f"amparo dev exited with {self.proc.wait()}")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AMPARO, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path / "data")
    running.start()
    yield running
    if running.proc is not None:
        running.stop()


@pytest.mark.timeout(240)
def test_cli_against_the_dev_stack_survives_a_restart(stack: Stack) -> None:
    added = stack.cli(
        "users", "add", "ana", "--role", "caseworker", "--institution", "pett",
        stdin="a long enough password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    signed_in = stack.cli("login", "ana", stdin="a long enough password\n")
    assert signed_in.returncode == 0, signed_in.stderr

    opened = stack.cli(
        "case", "open", "--crime-type", "trafficking", "--given-name", "Rosa",
        "--family-name", "Peña", "--sex", "female", "--nationality", "VE",
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    case_id = opened.stdout.strip()

    done = stack.cli(
        "case", "advance", case_id, "identification", "complete", "--outcome", "confirmed_victim"
    )
    assert done.returncode == 0, done.stderr
    assert "shelter" in done.stdout

    refused = stack.cli(
        "case", "advance", case_id, "shelter", "complete", "--outcome", "not_a_victim"
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("error: outcome_not_allowed")
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    listed = stack.cli("case", "list")
    assert case_id in listed.stdout
    assert "Rosa" not in listed.stdout  # lists never show a person
    assert case_id in stack.cli("case", "list", "--name", "pena").stdout

    assert stack.stop() == 0
    stack.start()
    shown = stack.cli("case", "show", case_id)
    assert "shelter" in shown.stdout
    assert "pending" in shown.stdout
    moved = stack.cli("case", "advance", case_id, "shelter", "start")
    assert moved.returncode == 0, moved.stderr
    assert "in_progress" in stack.cli("case", "show", case_id).stdout


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    env = os.environ | {"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_LOG_LEVEL": "LOUD"}
    result = subprocess.run(
        [*AMPARO, "case", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: invalid setting AMPARO_LOG_LEVEL: "
        "Value error, must be DEBUG, INFO, WARNING or ERROR"
    )


def test_a_wrong_institution_registry_stops_every_command_with_one_line(tmp_path: Path) -> None:
    registry = tmp_path / "institutions.toml"
    registry.write_text(
        '[[institution]]\nid = "hogar"\nname = "Hogar"\nsteps = ["shelter"]\n'
        'channel = { kind = "webhook", url = "not a url", secret = "long enough secret!" }\n'
    )
    env = os.environ | {"AMPARO_DATA_DIR": str(tmp_path), "AMPARO_INSTITUTIONS_FILE": str(registry)}
    for command in (["case", "list"], ["worker"], ["dev"]):
        result = subprocess.run(
            [*AMPARO, *command], env=env, capture_output=True, text=True, check=False, timeout=60
        )
        assert result.returncode == 1, command
        line = result.stderr.strip()
        assert line.startswith(f"error: {registry}: institution 1 (hogar): channel.url: "), line
        assert len(line.splitlines()) == 1 and "Traceback" not in line

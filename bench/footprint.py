"""Footprint: memory and start-up times with many open cases waiting on their SLA timers.

    .venv/bin/python -m bench.footprint [--cases 10000 --concurrency 50 --cold-queries 100]

Two phases, each on its own fresh dev server (a SQLite file in a temporary directory) with
its worker in a subprocess, so both processes' RSS can be read (psutil if installed, else
/proc/<pid>/status VmRSS):

* baseline: `--cases` bare workflows (`BareWorkflow`, started together with one trivial
  Update, so each has run its first task), served by a bare worker subprocess
  (a `python -c` process importing only temporalio and `bench.baseline`, SDK defaults);
* Amparo: `--cases` cases opened through `CaseCommands.open` (each case then waits on its
  SLA timer), served by `amparo worker`.

Then, in each phase, what is measured:

* `server_rss`, `worker_rss`: RSS with the workflows open, the worker idle after serving them
  (the worker's cache holds at most 1,000 workflows, the SDK default);
* `worker_start`: a fresh worker process replaces the running one (stopped with SIGTERM); the
  time from spawning it until the first query on a case (not in any cache) is answered —
  process start, imports, connecting, polling, and one full history replay;
* `cold_query`: then `--cold-queries` queries on other cases, one at a time (each a replay);
* `server_restart`: worker stopped, dev server stopped (SIGTERM) and started again on the
  same SQLite file with the workflows in it; the time until it serves clients (namespace and
  search attributes checked), then `restart_first_query` (a fresh worker, first query) too.

One JSON line per figure: `amparo`, `bare`, `ratio` (= amparo / bare), plus the opening
rates (`footprint.opening`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from amparo.cases import CommandRefused
from amparo.temporal import data_converter
from bench.baseline import BareWorkflow
from bench.case_opening import in_parallel
from bench.stack import Stack, open_command, rss_bytes, running_stack
from bench.stats import emit, percentile
from workflows.case import ProtectionCaseWorkflow
from workflows.contracts import case_workflow_id

MIB = 1024 * 1024
OPEN_ATTEMPTS = 3  # an opening not answered in time is sent again (same id: applied once)
SETTLE_S = 5.0  # after the last opening, before reading RSS: let in-flight work finish


@dataclass
class Phase:
    """What one phase measured."""

    cases: int = 0
    open_s: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)


Spawn = Callable[[], subprocess.Popen[bytes]]
Query = Callable[[Client, str], Awaitable[object]]


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@asynccontextmanager
async def subprocess_worker(spawn: Spawn) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = spawn()
    try:
        yield proc
    finally:
        await asyncio.to_thread(_stop_process, proc)


async def first_answer(client: Client, workflow_id: str, query: Query, limit: float) -> float:
    """Seconds until `query` answers (retried while no worker is there to answer it)."""
    began = time.perf_counter()
    while True:
        try:
            await query(client, workflow_id)
            return time.perf_counter() - began
        except RPCError:
            if time.perf_counter() - began > limit:
                raise
            await asyncio.sleep(0.05)


async def polled(stack: Stack, queue: str, limit: float) -> None:
    """Wait until a worker polls `queue` for workflow tasks."""
    request = DescribeTaskQueueRequest(
        namespace=stack.settings.temporal_namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    began = time.perf_counter()
    while not (await stack.client.workflow_service.describe_task_queue(request)).pollers:
        if time.perf_counter() - began > limit:
            raise TimeoutError(f"no worker polls {queue} after {limit:g} s")
        await asyncio.sleep(0.05)


async def measure_phase(
    stack: Stack,
    queue: str,
    spawn: Spawn,
    open_one: Callable[[int], Awaitable[str]],
    query: Query,
    *,
    cases: int,
    concurrency: int,
    cold_queries: int,
) -> Phase:
    phase = Phase(cases=cases)
    server_pid = stack.server.pid
    assert server_pid is not None
    fig = phase.figures
    ids: list[str] = []
    errors = 0

    async def opener(n: int) -> None:
        nonlocal errors
        try:
            ids.append(await open_one(n))
            if len(ids) % 1000 == 0:
                print(f"{len(ids)} open", file=sys.stderr, flush=True)
        except Exception as error:  # counted: one slow opening must not end the benchmark
            print(f"opening {n} failed: {error!r}", file=sys.stderr)
            errors += 1

    async with subprocess_worker(spawn) as proc:
        began = time.perf_counter()
        await polled(stack, queue, 120)
        fig["worker_ready_s"] = time.perf_counter() - began
        await opener(0)
        await asyncio.sleep(1.0)
        fig["server_rss_empty_mib"] = rss_bytes(server_pid) / MIB
        fig["worker_rss_empty_mib"] = rss_bytes(proc.pid) / MIB
        _, phase.open_s = await in_parallel(cases - 1, concurrency, lambda n: opener(n + 1))
        await asyncio.sleep(SETTLE_S)
        fig["server_rss_mib"] = rss_bytes(server_pid) / MIB
        fig["worker_rss_mib"] = rss_bytes(proc.pid) / MIB
    fig["open_errors"] = errors
    db = stack.server.config.db_file
    fig["temporal_db_mib"] = (
        sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file()) / MIB
    )

    client = stack.client
    order = random.sample(ids, len(ids))
    async with subprocess_worker(spawn) as proc:
        fig["worker_start_s"] = await first_answer(client, order[0], query, 120)
        cold: list[float] = []
        for workflow_id in order[1 : 1 + cold_queries]:
            began = time.perf_counter()
            await query(client, workflow_id)
            cold.append(time.perf_counter() - began)
        if cold:
            fig["cold_query_p50_ms"] = percentile(cold, 0.5) * 1000
            fig["cold_query_p95_ms"] = percentile(cold, 0.95) * 1000
        fig["worker_rss_after_queries_mib"] = rss_bytes(proc.pid) / MIB

    began = time.perf_counter()
    await stack.server.stop()
    fig["server_stop_s"] = time.perf_counter() - began
    began = time.perf_counter()
    await stack.server.start()
    fig["server_restart_s"] = time.perf_counter() - began
    server_pid = stack.server.pid
    assert server_pid is not None
    fresh = await Client.connect(stack.settings.temporal_address, data_converter=data_converter())
    async with subprocess_worker(spawn):
        pick = order[-1]
        fig["restart_first_query_s"] = await first_answer(fresh, pick, query, 120)
        await asyncio.sleep(SETTLE_S)
        fig["server_rss_after_restart_mib"] = rss_bytes(server_pid) / MIB
    return phase


# --- the baseline: bare workflows and a bare worker subprocess ------------------------------


# The bare worker process imports only temporalio and the bare workflow (not Amparo, not
# this module), so its start time and memory are Temporal's own.
BARE_WORKER = """
import asyncio, signal, sys
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from bench.baseline import BareWorkflow

async def serve(address, task_queue):
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    async with Worker(client, task_queue=task_queue, workflows=[BareWorkflow]):
        await stop.wait()

if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
"""


async def bare_phase(cases: int, concurrency: int, cold_queries: int) -> Phase:
    async with running_stack(api=False, worker=False, bare_worker=False) as stack:
        queue = stack.bare_queue
        address = stack.settings.temporal_address

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-c", BARE_WORKER, address, queue],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
            )

        async def open_one(_n: int) -> str:
            workflow_id = f"bench-bare-{uuid.uuid4()}"
            start = WithStartWorkflowOperation(
                BareWorkflow.run,
                id=workflow_id,
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await stack.client.execute_update_with_start_workflow(
                BareWorkflow.bump, 1, start_workflow_operation=start
            )
            return workflow_id

        async def query(client: Client, workflow_id: str) -> object:
            # BareWorkflow has no query of its own: the SDK's built-in one costs the same trip.
            return await client.get_workflow_handle(workflow_id).query("__stack_trace")

        return await measure_phase(
            stack,
            queue,
            spawn,
            open_one,
            query,
            cases=cases,
            concurrency=concurrency,
            cold_queries=cold_queries,
        )


# --- Amparo: cases and `amparo worker` --------------------------------------------------------


def amparo_command() -> list[str]:
    script = Path(sys.executable).parent / "amparo"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "amparo.cli.main"]


async def amparo_phase(cases: int, concurrency: int, cold_queries: int) -> Phase:
    async with running_stack(api=False, worker=False, bare_worker=False) as stack:
        env = stack.worker_env()

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [*amparo_command(), "worker"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )

        async def open_one(n: int) -> str:
            command = open_command(n)
            for attempt in range(1, OPEN_ATTEMPTS + 1):
                try:
                    await stack.commands.open(command)
                    break
                except CommandRefused:
                    raise
                except Exception as error:  # no answer in time: the same command again is safe
                    print(f"opening case {n}, attempt {attempt}: {error!r}", file=sys.stderr)
                    if attempt == OPEN_ATTEMPTS:
                        raise
            return case_workflow_id(command.case_id)

        async def query(client: Client, workflow_id: str) -> object:
            return await client.get_workflow_handle(workflow_id).query(ProtectionCaseWorkflow.case)

        phase = await measure_phase(
            stack,
            stack.settings.task_queue,
            spawn,
            open_one,
            query,
            cases=cases,
            concurrency=concurrency,
            cold_queries=cold_queries,
        )
        phase.figures["amparo_db_mib"] = (
            sum(p.stat().st_size for p in stack.data_dir.glob("amparo.db*") if p.is_file()) / MIB
        )
        return phase


FIGURES = [  # name, figure, unit
    ("footprint.worker_ready", "worker_ready_s", "s"),
    ("footprint.server_rss", "server_rss_mib", "MiB"),
    ("footprint.server_rss_empty", "server_rss_empty_mib", "MiB"),
    ("footprint.worker_rss", "worker_rss_mib", "MiB"),
    ("footprint.worker_rss_empty", "worker_rss_empty_mib", "MiB"),
    ("footprint.worker_start", "worker_start_s", "s"),
    ("footprint.cold_query_p50", "cold_query_p50_ms", "ms"),
    ("footprint.cold_query_p95", "cold_query_p95_ms", "ms"),
    ("footprint.worker_rss_after_queries", "worker_rss_after_queries_mib", "MiB"),
    ("footprint.temporal_db", "temporal_db_mib", "MiB"),
    ("footprint.server_stop", "server_stop_s", "s"),
    ("footprint.server_restart", "server_restart_s", "s"),
    ("footprint.restart_first_query", "restart_first_query_s", "s"),
    ("footprint.server_rss_after_restart", "server_rss_after_restart_mib", "MiB"),
]


def report(amparo: Phase, bare: Phase, cases: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    load = round(os.getloadavg()[0], 2)
    opened = cases - 1  # the first opening waited for the worker
    results.append(
        {
            "name": "footprint.opening",
            "cases": cases,
            "amparo_cases_per_s": round(opened / amparo.open_s, 1),
            "bare_workflows_per_s": round(opened / bare.open_s, 1),
            "amparo_errors": amparo.figures.get("open_errors", 0),
            "bare_errors": bare.figures.get("open_errors", 0),
            "ratio": round(bare.open_s / amparo.open_s, 3),
            "load_avg_1m": load,
        }
    )
    for name, key, unit in FIGURES:
        if key not in amparo.figures or key not in bare.figures:
            continue
        a, b = amparo.figures[key], bare.figures[key]
        results.append(
            {
                "name": name,
                "cases": cases,
                "unit": unit,
                "amparo": round(a, 3),
                "bare": round(b, 3),
                "ratio": round(a / b, 3) if b else None,
                "load_avg_1m": load,
            }
        )
    if "amparo_db_mib" in amparo.figures:
        results.append(
            {
                "name": "footprint.amparo_db",
                "cases": cases,
                "unit": "MiB",
                "amparo": round(amparo.figures["amparo_db_mib"], 3),
                "ratio": None,
                "load_avg_1m": load,
            }
        )
    for key, phase in (("amparo", amparo), ("bare", bare)):
        growth = phase.figures["server_rss_mib"] - phase.figures["server_rss_empty_mib"]
        results.append(
            {
                "name": f"footprint.server_kib_per_open_workflow.{key}",
                "cases": cases,
                "kib": round(growth * 1024 / cases, 1),
                "ratio": None,
                "load_avg_1m": load,
            }
        )
    for result in results:
        emit(result)
    return results


async def run(cases: int, concurrency: int, cold_queries: int) -> list[dict[str, Any]]:
    bare = await bare_phase(cases, concurrency, cold_queries)
    amparo = await amparo_phase(cases, concurrency, cold_queries)
    return report(amparo, bare, cases)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="open workflows per phase")
    parser.add_argument("--concurrency", type=int, default=50, help="openings at once")
    parser.add_argument("--cold-queries", type=int, default=100, help="queries after restart")
    args = parser.parse_args(argv)
    if args.cases < 2:
        parser.error("--cases: at least 2")
    asyncio.run(run(args.cases, args.concurrency, args.cold_queries))


if __name__ == "__main__":
    main()

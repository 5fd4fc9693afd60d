"""Footprint: memory and start-up times with many open cases or visas waiting on timers.

    .venv/bin/python -m bench.footprint [--cases 10000 --concurrency 50 --cold-queries 100]
                                        [--visas 1000 --visas-per-case 10]
    .venv/bin/python -m bench.footprint --cases 0 --visas 10000 --concurrency 10  # the issue's

Phases, each on its own fresh dev server (a SQLite file in a temporary directory) with
its worker in a subprocess, so both processes' RSS can be read (psutil if installed, else
/proc/<pid>/status VmRSS):

* baseline: `--cases` bare workflows (`BareWorkflow`, started together with one trivial
  Update, so each has run its first task), served by a bare worker subprocess
  (a `python -c` process importing only temporalio and `bench.baseline`, SDK defaults);
* Amparo: `--cases` cases opened through `CaseCommands.open` (each case then waits on its
  SLA timer), served by `amparo worker`;
* visas (`--visas N`, 0 leaves it out; `--cases 0` leaves the two phases above out): N
  visas registered with `CaseCommands.send(case_id, RegisterVisa(...))`, `--visas-per-case`
  on each of ceil(N / per case) cases opened through `CaseCommands.open`, expiries spread
  over the next 1-3 years. Each registration, once stored, starts the visa's
  `VisaRenewalWorkflow` (`visa-<visa_id>`), which waits on a durable timer for its first
  reminder (90 days before the expiry, so 9-33 months ahead). Its baseline is a bare phase
  with as many workflows as the visa phase holds (visas + their cases), reused from the
  first phase when `--cases` is that number. The default, 1,000 visas on 100 cases, adds
  about 4 minutes to `python -m bench` on two busy shared cores; the issue's 10,000 took
  45 minutes there (`--cases 0 --visas 10000 --concurrency 10`). With 20 or 50 at once
  on that machine, the first tasks of new workflows (every visa's, every case's) queued on
  the task queue long enough to hold case openings for minutes: a command not answered in
  20 s is sent again (same id) for up to 10 minutes, counted in `footprint.visas.opening`.

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

In the visa phase the queries go to visa workflows, with the SDK's built-in `__stack_trace`
query as in the bare phase (`VisaRenewalWorkflow` defines none; each cold one replays the
visa's history), and `case_cold_query` adds `--cold-queries` `ProtectionCaseWorkflow.case`
queries on cases carrying the visas (each replays a case with its registrations). Before the
RSS is read, the phase waits until `count_workflows` finds every `VisaRenewalWorkflow`
running, and reads the history of a sample of them to check each has a timer pending
(counted again after the server restart): `footprint.visas.running`.

One JSON line per figure: `amparo`, `bare`, `ratio` (= amparo / bare), plus the opening
rates (`footprint.opening`); the visa phase's lines are named `footprint.visas.*`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from amparo.cases import CommandRefused
from amparo.keyring import master_keyring
from amparo.temporal import data_converter
from bench.baseline import BareWorkflow
from bench.case_opening import in_parallel
from bench.stack import USER, Stack, open_command, rss_bytes, running_stack
from bench.stats import emit, percentile
from domain import commands as cmd
from domain.ids import derived_id
from domain.vocabulary import VisaKind
from workflows.case import ProtectionCaseWorkflow
from workflows.contracts import case_workflow_id, visa_workflow_id

MIB = 1024 * 1024
# A command not answered in time is sent again (same id: applied once) until this long has
# passed: on a loaded machine a backlog on the worker's task queue can hold an opening for
# minutes (its first task waits behind the visa workflows' first tasks).
COMMAND_PATIENCE_S = 600.0
SETTLE_S = 5.0  # after the last opening, before reading RSS: let in-flight work finish
DEFAULT_VISAS = 1000  # the visa phase by default; the size is `--visas 10000`


@dataclass
class Phase:
    """What one phase measured."""

    cases: int = 0  # openings (a visa phase's opening is one case with its visas)
    open_s: float = 0.0
    timed: int = 0  # workflows opened in `open_s` (all but the first opening's)
    figures: dict[str, float] = field(default_factory=dict)


Spawn = Callable[[], subprocess.Popen[bytes]]
Query = Callable[[Client, str], Awaitable[object]]
Open = Callable[[int], Awaitable[list[str]]]  # one opening: the ids of workflows to query
Check = Callable[[Client], Awaitable[dict[str, float]]]


@dataclass
class Extra:
    """What a phase measures beyond the common figures."""

    # After the openings (before RSS is read) and after the server restart (`_after_restart`).
    check: Check | None = None
    # More cold queries, on these ids (filled while opening), as `<prefix>cold_query_*`.
    cold_prefix: str = ""
    cold_ids: list[str] = field(default_factory=list)
    cold_query: Query | None = None


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


async def cold_figures(
    client: Client, ids: list[str], query: Query, prefix: str = ""
) -> dict[str, float]:
    """p50 / p95 of `query` on each of `ids`, one at a time."""
    cold: list[float] = []
    for workflow_id in ids:
        began = time.perf_counter()
        await query(client, workflow_id)
        cold.append(time.perf_counter() - began)
    if not cold:
        return {}
    return {
        f"{prefix}cold_query_p50_ms": percentile(cold, 0.5) * 1000,
        f"{prefix}cold_query_p95_ms": percentile(cold, 0.95) * 1000,
    }


async def measure_phase(
    stack: Stack,
    queue: str,
    spawn: Spawn,
    open_one: Open,
    query: Query,
    *,
    cases: int,
    concurrency: int,
    cold_queries: int,
    extra: Extra | None = None,
) -> Phase:
    extra = extra or Extra()
    phase = Phase(cases=cases)
    server_pid = stack.server.pid
    assert server_pid is not None
    fig = phase.figures
    ids: list[str] = []
    errors = 0
    done = 0

    async def opener(n: int) -> None:
        nonlocal errors, done
        try:
            ids.extend(await open_one(n))
            done += 1
            if done % 1000 == 0:
                print(f"{done} open", file=sys.stderr, flush=True)
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
        first = len(ids)
        _, phase.open_s = await in_parallel(cases - 1, concurrency, lambda n: opener(n + 1))
        phase.timed = len(ids) - first
        print(
            f"{queue}: {cases - 1} openings ({phase.timed} workflows to query) in "
            f"{phase.open_s:.1f} s ({phase.timed / phase.open_s:.1f}/s, {errors} failed)",
            file=sys.stderr,
            flush=True,
        )
        if extra.check is not None:
            fig.update(await extra.check(stack.client))
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
        fig.update(await cold_figures(client, order[1 : 1 + cold_queries], query))
        if extra.cold_query is not None:
            more = random.sample(extra.cold_ids, min(cold_queries, len(extra.cold_ids)))
            fig.update(await cold_figures(client, more, extra.cold_query, extra.cold_prefix))
        fig["worker_rss_after_queries_mib"] = rss_bytes(proc.pid) / MIB

    began = time.perf_counter()
    await stack.server.stop()
    fig["server_stop_s"] = time.perf_counter() - began
    began = time.perf_counter()
    await stack.server.start()
    fig["server_restart_s"] = time.perf_counter() - began
    server_pid = stack.server.pid
    assert server_pid is not None
    # Decodes Amparo's encrypted answers; a bare workflow's plain ones pass through.
    converter = data_converter(master_keyring(stack.settings))
    fresh = await Client.connect(stack.settings.temporal_address, data_converter=converter)
    async with subprocess_worker(spawn):
        pick = order[-1]
        fig["restart_first_query_s"] = await first_answer(fresh, pick, query, 120)
        await asyncio.sleep(SETTLE_S)
        fig["server_rss_after_restart_mib"] = rss_bytes(server_pid) / MIB
        if extra.check is not None:
            checked = await extra.check(fresh)
            fig.update({f"{key}_after_restart": value for key, value in checked.items()})
    return phase


# --- the baseline: bare workflows and a bare worker subprocess ------------------------------


async def stack_trace_query(client: Client, workflow_id: str) -> object:
    """The SDK's built-in query: for workflows with no query of their own (a replay if cold)."""
    return await client.get_workflow_handle(workflow_id).query("__stack_trace")


# The bare worker process imports only temporalio and the bare workflow (not Amparo, not
# this module), so its start time and memory are Temporal's own.
# It leaves with os._exit, as `amparo` does: Temporal's native threads can crash a
# finalizing interpreter ("PyGILState_Release ... finalizing", temporalio/sdk-python#300).
BARE_WORKER = """
import asyncio, os, signal, sys
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
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
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

        # Bare Temporal: no payload codec, as the bare worker has none.
        plain = await Client.connect(address, data_converter=data_converter())

        async def open_one(_n: int) -> list[str]:
            workflow_id = f"bench-bare-{uuid.uuid4()}"
            start = WithStartWorkflowOperation(
                BareWorkflow.run,
                id=workflow_id,
                task_queue=queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await plain.execute_update_with_start_workflow(
                BareWorkflow.bump, 1, start_workflow_operation=start
            )
            return [workflow_id]

        return await measure_phase(
            stack,
            queue,
            spawn,
            open_one,
            stack_trace_query,
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


def amparo_spawn(stack: Stack) -> Spawn:
    env = stack.worker_env()

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*amparo_command(), "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )

    return spawn


async def with_retries(what: str, call: Callable[[], Awaitable[object]]) -> int:
    """`call()`, again when not answered in time (its command, same id, applies once).

    Returns how many times it was sent again.
    """
    began = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        try:
            await call()
            return attempt - 1
        except CommandRefused:
            raise
        except Exception as error:  # no answer in time: the same command again is safe
            waited = time.perf_counter() - began
            print(f"{what}, attempt {attempt} ({waited:.0f} s): {error!r}", file=sys.stderr)
            if waited > COMMAND_PATIENCE_S:
                raise


async def open_case(stack: Stack, n: int, retries: list[int] | None = None) -> UUID:
    """Open case `n`; the times its opening was sent again are appended to `retries`."""
    command = open_command(n)
    again = await with_retries(f"opening case {n}", lambda: stack.commands.open(command))
    if retries is not None:
        retries.append(again)
    return command.case_id


async def case_query(client: Client, workflow_id: str) -> object:
    return await client.get_workflow_handle(workflow_id).query(ProtectionCaseWorkflow.case)


def amparo_db_mib(stack: Stack) -> float:
    return sum(p.stat().st_size for p in stack.data_dir.glob("amparo.db*") if p.is_file()) / MIB


async def amparo_phase(cases: int, concurrency: int, cold_queries: int) -> Phase:
    async with running_stack(api=False, worker=False, bare_worker=False) as stack:

        async def open_one(n: int) -> list[str]:
            return [case_workflow_id(await open_case(stack, n))]

        phase = await measure_phase(
            stack,
            stack.settings.task_queue,
            amparo_spawn(stack),
            open_one,
            case_query,
            cases=cases,
            concurrency=concurrency,
            cold_queries=cold_queries,
        )
        phase.figures["amparo_db_mib"] = amparo_db_mib(stack)
        return phase


# --- visas: cases carrying visas, one VisaRenewalWorkflow waiting per visa ------------------

VISA_KINDS = list(VisaKind)
RUNNING_VISAS = 'WorkflowType="VisaRenewalWorkflow" AND ExecutionStatus="Running"'
RUNNING_CASES = 'WorkflowType="ProtectionCaseWorkflow" AND ExecutionStatus="Running"'
VISA_SAMPLE = 20  # visa histories read to check each waits on a timer
COUNT_STALL_S = 60.0  # give up waiting for the count when it has not grown for this long


def register_visa(n: int, k: int, today: date) -> cmd.RegisterVisa:
    """The `k`-th visa of case `n`: issued in the past year, expiring in 1-3 years."""
    rng = random.Random(n * 1000 + k)
    return cmd.RegisterVisa(
        command_id=uuid.uuid4(),
        actor=USER,
        at=datetime.now(UTC),
        visa_kind=VISA_KINDS[(n + k) % len(VISA_KINDS)],
        number=f"BV-{n:06d}-{k:02d}",
        issued_on=today - timedelta(days=rng.randint(0, 365)),
        expires_on=today + timedelta(days=rng.randint(366, 3 * 365)),
    )


async def pending_timer_days(client: Client, workflow_id: str) -> float | None:
    """Days until the workflow's pending timer fires (from when it started), None if none."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    pending: dict[int, float] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            pending[event.event_id] = timeout.ToTimedelta() / timedelta(days=1)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            pending.pop(event.timer_fired_event_attributes.started_event_id, None)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            pending.pop(event.timer_canceled_event_attributes.started_event_id, None)
    return max(pending.values()) if pending else None


def visa_check(visa_ids: list[str]) -> Check:
    """Wait until the visas registered so far all run; check a sample of them waits on a timer."""

    async def check(client: Client) -> dict[str, float]:
        expected = len(visa_ids)
        began = last_change = time.perf_counter()
        running = -1
        while True:
            now_running = (await client.count_workflows(RUNNING_VISAS)).count
            if now_running >= expected:
                running = now_running
                break
            if now_running != running:
                running, last_change = now_running, time.perf_counter()
            elif time.perf_counter() - last_change > COUNT_STALL_S:
                print(f"{running} of {expected} visa workflows run", file=sys.stderr)
                break
            await asyncio.sleep(0.5)
        figures = {
            "visas_running": float(running),
            "visas_running_wait_s": time.perf_counter() - began,
            "cases_running": float((await client.count_workflows(RUNNING_CASES)).count),
        }
        days: list[float] = []
        for workflow_id in random.sample(visa_ids, min(VISA_SAMPLE, len(visa_ids))):
            for _ in range(10):  # a workflow just started may not have run its first task
                found = await pending_timer_days(client, workflow_id)
                if found is not None:
                    days.append(found)
                    break
                await asyncio.sleep(1.0)
        figures["visas_sampled"] = float(min(VISA_SAMPLE, len(visa_ids)))
        figures["visas_sampled_waiting_on_timer"] = float(len(days))
        if days:
            figures["visa_timer_days_min"] = min(days)
            figures["visa_timer_days_max"] = max(days)
        return figures

    return check


async def visas_phase(visas: int, per_case: int, concurrency: int, cold_queries: int) -> Phase:
    """`visas` visas, `per_case` on each case (the last case may carry fewer)."""
    cases = -(-visas // per_case)
    today = datetime.now(UTC).date()
    case_ids: list[str] = []
    visa_ids: list[str] = []
    retries: list[int] = []  # per command sent
    async with running_stack(api=False, worker=False, bare_worker=False) as stack:

        async def open_one(n: int) -> list[str]:
            case_id = await open_case(stack, n, retries)
            case_ids.append(case_workflow_id(case_id))
            ids: list[str] = []
            for k in range(min(per_case, visas - n * per_case)):
                command = register_visa(n, k, today)
                send = functools.partial(stack.commands.send, case_id, command)
                retries.append(await with_retries(f"visa {k} of case {n}", send))
                ids.append(visa_workflow_id(derived_id(command.command_id, "visa")))
            visa_ids.extend(ids)
            return ids

        extra = Extra(
            check=visa_check(visa_ids),
            cold_prefix="case_",
            cold_ids=case_ids,
            cold_query=case_query,
        )
        phase = await measure_phase(
            stack,
            stack.settings.task_queue,
            amparo_spawn(stack),
            open_one,
            stack_trace_query,
            cases=cases,
            concurrency=concurrency,
            cold_queries=cold_queries,
            extra=extra,
        )
        phase.figures["amparo_db_mib"] = amparo_db_mib(stack)
        phase.figures["visas"] = float(len(visa_ids))
        phase.figures["commands_sent_again"] = float(sum(retries))
        phase.figures["commands_answered_late"] = float(sum(1 for n in retries if n))
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


VISA_FIGURES = [  # name, figure, the bare phase's figure, unit
    *(
        (name.replace("footprint.", "footprint.visas.", 1), key, key, unit)
        for name, key, unit in FIGURES
    ),
    ("footprint.visas.case_cold_query_p50", "case_cold_query_p50_ms", "cold_query_p50_ms", "ms"),
    ("footprint.visas.case_cold_query_p95", "case_cold_query_p95_ms", "cold_query_p95_ms", "ms"),
]


def report_visas(visas: Phase, bare: Phase) -> list[dict[str, Any]]:
    """The visa phase against bare workflows as many as its visa and case workflows."""
    fig = visas.figures
    load = round(os.getloadavg()[0], 2)
    sizes = {"visas": int(fig["visas"]), "cases": visas.cases, "bare_workflows": bare.cases}
    results: list[dict[str, Any]] = [
        {
            "name": "footprint.visas.running",
            **sizes,
            **{
                key: round(fig[key], 1) if key.startswith("visa_timer") else int(fig[key])
                for key in (
                    "visas_running",
                    "cases_running",
                    "visas_sampled",
                    "visas_sampled_waiting_on_timer",
                    "visa_timer_days_min",
                    "visa_timer_days_max",
                    "visas_running_after_restart",
                    "visas_sampled_waiting_on_timer_after_restart",
                )
                if key in fig
            },
            "count_wait_s": round(fig["visas_running_wait_s"], 2),
            "load_avg_1m": load,
        },
        {
            "name": "footprint.visas.opening",
            **sizes,
            "amparo_visas_per_s": round(visas.timed / visas.open_s, 1),
            "bare_workflows_per_s": round(bare.timed / bare.open_s, 1),
            "amparo_errors": fig.get("open_errors", 0),
            "bare_errors": bare.figures.get("open_errors", 0),
            # Commands (openings and registrations) not answered within 20 s, sent again.
            "amparo_commands_answered_late": int(fig["commands_answered_late"]),
            "amparo_commands_sent_again": int(fig["commands_sent_again"]),
            "ratio": round((visas.timed / visas.open_s) / (bare.timed / bare.open_s), 3),
            "load_avg_1m": load,
        },
    ]
    for name, key, bare_key, unit in VISA_FIGURES:
        if key not in fig or bare_key not in bare.figures:
            continue
        a, b = fig[key], bare.figures[bare_key]
        results.append(
            {
                "name": name,
                **sizes,
                "unit": unit,
                "amparo": round(a, 3),
                "bare": round(b, 3),
                "ratio": round(a / b, 3) if b else None,
                "load_avg_1m": load,
            }
        )
    results.append(
        {
            "name": "footprint.visas.amparo_db",
            **sizes,
            "unit": "MiB",
            "amparo": round(fig["amparo_db_mib"], 3),
            "ratio": None,
            "load_avg_1m": load,
        }
    )
    for key, phase in (("amparo", visas), ("bare", bare)):
        growth = phase.figures["server_rss_mib"] - phase.figures["server_rss_empty_mib"]
        workflows = bare.cases  # the visa phase holds as many (visas and their cases)
        results.append(
            {
                "name": f"footprint.visas.server_kib_per_open_workflow.{key}",
                **sizes,
                "kib": round(growth * 1024 / workflows, 1),
                "ratio": None,
                "load_avg_1m": load,
            }
        )
    for result in results:
        emit(result)
    return results


async def run(
    cases: int, concurrency: int, cold_queries: int, visas: int = 0, per_case: int = 10
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    bare: Phase | None = None
    if cases:
        bare = await bare_phase(cases, concurrency, cold_queries)
        amparo = await amparo_phase(cases, concurrency, cold_queries)
        results += report(amparo, bare, cases)
    if visas:
        workflows = visas + -(-visas // per_case)  # the visa workflows and their cases
        if bare is None or bare.cases != workflows:
            bare = await bare_phase(workflows, concurrency, cold_queries)
        visa_phase = await visas_phase(visas, per_case, concurrency, cold_queries)
        results += report_visas(visa_phase, bare)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases", type=int, default=10_000, help="open workflows per phase (0: no case phases)"
    )
    parser.add_argument("--concurrency", type=int, default=50, help="openings at once")
    parser.add_argument("--cold-queries", type=int, default=100, help="queries after restart")
    parser.add_argument(
        "--visas",
        type=int,
        default=DEFAULT_VISAS,
        help=f"visas in the visa phase (0: none; default {DEFAULT_VISAS}; the issue: 10000)",
    )
    parser.add_argument("--visas-per-case", type=int, default=10, help="visas on each case")
    args = parser.parse_args(argv)
    if args.cases == 1 or args.cases < 0:
        parser.error("--cases: 0, or at least 2")
    if args.visas < 0 or args.visas_per_case < 1:
        parser.error("--visas: 0 or more; --visas-per-case: at least 1")
    if 0 < args.visas <= args.visas_per_case:
        parser.error("--visas: more than --visas-per-case (at least two cases)")
    if not args.cases and not args.visas:
        parser.error("nothing to measure: --cases 0 and --visas 0")
    asyncio.run(
        run(args.cases, args.concurrency, args.cold_queries, args.visas, args.visas_per_case)
    )


if __name__ == "__main__":
    main()

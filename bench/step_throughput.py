"""Step throughput: N cases x M step commands, by API and by client, against bare Temporal.

    .venv/bin/python -m bench.step_throughput [--cases 50 --steps 16 --rounds 1]
        [--layout one_process,deployed]

Three series on one stack (same dev server, same process, same client), same shape:
N cases in parallel, each taking its M commands one after the other: a case walks its whole
protection path (identification; refer, start, complete each later step), so M <= 16.

* `step_throughput.bare` (c): N `BareWorkflow`s, each answering M sequential trivial Updates.
* `step_throughput.client` (b): `CaseCommands.send(AdvanceStep)` straight to the case
  workflows, each answering once its events are stored (the store and projections included).
* `step_throughput.api` (a): `POST /cases/{id}/steps/{step}` through the HTTP API (sign-in
  token check, visibility check, the command, the case read back from the projection).

The cases are opened, and the bare workflows started and sent one Update, before the clock
starts. Each line carries commands/s, p50/p95 latency, CPU per command of the Python side and
of the dev server, history events / workflow tasks / activities per command (from one fetched
history), and `ratio` = commands/s over the bare series of the same round (targets: client
0.5, api 0.4).

`--layout` says where Amparo runs; each layout is its own stack and its own bare series:
`one_process` (as `amparo dev`: worker and API in this process, beside the bare worker and
the benchmark's clients), `worker_apart` (the case worker in an `amparo worker`
subprocess), `deployed` (as docker-compose runs it: `amparo worker` and `amparo api` in
their own processes; the HTTP client and the bare worker stay here). Python CPU adds up
this process and Amparo's subprocesses. Default: `one_process,deployed`. Payloads are
encrypted as in production (the bare series too: it shares the client), and personal
fields sealed at rest; `--no-encryption` runs all three without the payload codec and
without sealing, to see what encryption costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from amparo.demo import REFER_TO
from bench.baseline import BareWorkflow
from bench.stack import USER, Stack, cpu_seconds, open_body, open_command, running_stack
from bench.stats import emit, summary
from domain import commands as cmd
from domain.vocabulary import (
    ASSISTANCE_STEPS,
    Channel,
    IdentificationOutcome,
    Step,
    StepAction,
)
from workflows.contracts import case_workflow_id

TARGETS = {"client": 0.5, "api": 0.4}


def _path() -> list[tuple[Step, dict[str, Any]]]:
    """A case's whole protection path as step commands (16): what M commands walk through."""
    walk: list[tuple[Step, dict[str, Any]]] = [
        (Step.IDENTIFICATION, {"action": "complete", "outcome": "confirmed_victim"})
    ]
    for step in (*ASSISTANCE_STEPS, Step.RETURN_REINTEGRATION):
        walk += [
            # The demo registry's institution for the step (an inbox: delivered at once).
            (step, {"action": "refer", "institution": REFER_TO[step.value]}),
            (step, {"action": "start"}),
            (step, {"action": "complete"}),
        ]
    return walk


PATH = _path()


def step_body(i: int) -> tuple[Step, dict[str, Any]]:
    """The i-th step command of a case, as the API's path and body."""
    return PATH[i]


def step_command(i: int) -> cmd.AdvanceStep:
    step, body = step_body(i)
    outcome = body.get("outcome")
    return cmd.AdvanceStep(
        command_id=uuid.uuid4(),
        actor=USER,
        at=datetime.now(UTC),
        step=step,
        action=StepAction(body["action"]),
        institution=body.get("institution"),
        outcome=IdentificationOutcome(outcome) if outcome else None,
        # As the API sends it: the demo registry's institutions are inboxes.
        channel=Channel.INBOX if body.get("institution") else None,
    )


Send = Callable[[int, int], Awaitable[object]]  # (case index, command index)


async def series(name: str, stack: Stack, cases: int, steps: int, send: Send) -> dict[str, Any]:
    """N cases in parallel, M sequential commands each; commands/s, latency and CPU."""
    samples: list[float] = []
    errors: Counter[str] = Counter()

    async def one_case(c: int) -> None:
        for i in range(steps):
            began = time.perf_counter()
            try:
                await send(c, i)
            except Exception as error:  # counted and reported: a benchmark keeps going
                errors[type(error).__name__] += 1
            samples.append(time.perf_counter() - began)

    server_pid = stack.server.pid
    assert server_pid is not None
    python_pids = stack.python_pids
    cpu_py = sum(cpu_seconds(pid) for pid in python_pids)
    cpu_srv = cpu_seconds(server_pid)
    began = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for c in range(cases):
            group.create_task(one_case(c))
    elapsed = time.perf_counter() - began
    cpu_py = sum(cpu_seconds(pid) for pid in python_pids) - cpu_py
    cpu_srv = cpu_seconds(server_pid) - cpu_srv
    total = cases * steps
    return summary(
        name,
        samples,
        cases=cases,
        steps=steps,
        seconds=round(elapsed, 3),
        commands_per_s=round((total - errors.total()) / elapsed, 1),
        max_ms=round(max(samples) * 1000, 1),
        errors=dict(errors),
        cpu_ms_per_command_python=round(cpu_py * 1000 / total, 2),
        cpu_ms_per_command_temporal=round(cpu_srv * 1000 / total, 2),
    )


async def history_shape(client: Client, workflow_id: str) -> dict[str, float]:
    """Events, workflow tasks and activities per accepted Update, over one whole history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    kinds = Counter(event.event_type for event in history.events)
    updates = kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED] or 1
    return {
        "history_events_per_command": round(len(history.events) / updates, 2),
        "workflow_tasks_per_command": round(
            kinds[EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED] / updates, 2
        ),
        "activities_per_command": round(
            kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] / updates, 2
        ),
        "search_attribute_upserts_per_command": round(
            kinds[EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES] / updates, 2
        ),
    }


async def bare_series(stack: Stack, cases: int, steps: int) -> dict[str, Any]:
    client = stack.client
    handles: list[WorkflowHandle[Any, Any]] = await asyncio.gather(
        *(
            client.start_workflow(
                BareWorkflow.run, id=f"bench-bare-{uuid.uuid4()}", task_queue=stack.bare_queue
            )
            for _ in range(cases)
        )
    )
    await asyncio.gather(*(h.execute_update(BareWorkflow.bump, 1) for h in handles))  # warm

    async def send(c: int, _i: int) -> object:
        return await handles[c].execute_update(BareWorkflow.bump, 1)

    result = await series("step_throughput.bare", stack, cases, steps, send)
    result |= await history_shape(client, handles[0].id)
    await asyncio.gather(*(h.signal(BareWorkflow.finish) for h in handles))
    return result


async def client_series(stack: Stack, cases: int, steps: int) -> dict[str, Any]:
    opened = [open_command(n) for n in range(cases)]
    await asyncio.gather(*(stack.commands.open(o) for o in opened))
    ids = [o.case_id for o in opened]

    async def send(c: int, i: int) -> object:
        return await stack.commands.send(ids[c], step_command(i))

    result = await series("step_throughput.client", stack, cases, steps, send)
    return result | await history_shape(stack.client, case_workflow_id(ids[0]))


async def api_series(stack: Stack, cases: int, steps: int) -> dict[str, Any]:
    token = await stack.sign_in()
    async with stack.http(token, connections=cases + 10) as http:
        answers = await asyncio.gather(
            *(http.post("/cases", json=open_body(n)) for n in range(cases))
        )
        ids = []
        for answer in answers:
            answer.raise_for_status()
            ids.append(answer.json()["case_id"])

        async def send(c: int, i: int) -> object:
            step, body = step_body(i)
            answer = await http.post(f"/cases/{ids[c]}/steps/{step.value}", json=body)
            answer.raise_for_status()
            return answer

        result = await series("step_throughput.api", stack, cases, steps, send)
    return result | await history_shape(stack.client, case_workflow_id(uuid.UUID(ids[0])))


SERIES = {"bare": bare_series, "client": client_series, "api": api_series}

# Where Amparo's worker and API run: (worker apart, API apart).
LAYOUTS = {
    "one_process": (False, False),
    "worker_apart": (True, False),
    "deployed": (True, True),
}


async def run(
    cases: int,
    steps: int,
    rounds: int,
    *,
    series: tuple[str, ...] = ("client", "api"),
    server_args: tuple[str, ...] = (),
    layout: str = "one_process",
    encryption: bool = True,
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    worker_apart, api_apart = LAYOUTS[layout]
    async with running_stack(
        api="api" in series,
        server_args=server_args,
        worker_process=worker_apart,
        api_process=api_apart and "api" in series,
        encryption=encryption,
    ) as stack:
        for r in range(1, rounds + 1):
            done = {kind: await SERIES[kind](stack, cases, steps) for kind in ("bare", *series)}
            base = done["bare"]["commands_per_s"]
            for kind, result in done.items():
                result["round"] = r
                result["ratio"] = round(result["commands_per_s"] / base, 3)
                if kind in TARGETS:
                    result["target_ratio"] = TARGETS[kind]
                    result["meets_target"] = result["ratio"] >= TARGETS[kind]
                result["load_avg_1m"] = round(os.getloadavg()[0], 2)
                result["encryption"] = encryption  # every series, bare too: one client
                if server_args:
                    result["server_args"] = list(server_args)
                result["layout"] = layout  # the bare series too: it ran beside that stack
                emit(result)
                results.append(result)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=50, help="cases in parallel (N)")
    parser.add_argument(
        "--steps",
        type=int,
        default=len(PATH),
        help=f"sequential commands per case (M <= {len(PATH)})",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the three series")
    parser.add_argument(
        "--series", default="client,api", help="besides the bare baseline: client, api or both"
    )
    parser.add_argument(
        "--dynamic-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dev-server dynamic config value to try (repeatable)",
    )
    parser.add_argument(
        "--layout",
        default="one_process,deployed",
        help=f"where Amparo runs, one stack each, comma-separated: {', '.join(LAYOUTS)}",
    )
    parser.add_argument(
        "--no-encryption",
        action="store_true",
        help="no payload codec (bare, client and API alike) and no sealing at rest",
    )
    args = parser.parse_args(argv)
    layouts = tuple(s for s in args.layout.split(",") if s)
    if not layouts or not set(layouts) <= set(LAYOUTS):
        parser.error(f"--layout: one or more of {', '.join(LAYOUTS)}")
    if args.no_encryption and layouts != ("one_process",):
        parser.error("--no-encryption needs --layout one_process: Amparo's processes encrypt")
    if not 1 <= args.steps <= len(PATH):
        parser.error(f"--steps: a case's path has {len(PATH)} step commands")
    series = tuple(s for s in args.series.split(",") if s)
    if not set(series) <= {"client", "api"}:
        parser.error("--series: client, api or both")
    server_args = tuple(a for kv in args.dynamic_config for a in ("--dynamic-config-value", kv))
    for layout in layouts:
        asyncio.run(
            run(
                args.cases,
                args.steps,
                args.rounds,
                series=series,
                server_args=server_args,
                layout=layout,
                encryption=not args.no_encryption,
            )
        )


if __name__ == "__main__":
    main()

"""Case opening: cases opened per second through the API, against bare workflow starts.

    .venv/bin/python -m bench.case_opening [--cases 300 --concurrency 20]

Same shape for every series: `--concurrency` openers, each opening one case after the other,
until `--cases` are open. On one stack (same dev server, process and client):

* `case_opening.bare_start` (baseline): `start_workflow(BareWorkflow.run)`; returns once the
  server has recorded the start, before any workflow task runs.
* `case_opening.bare_update_with_start`: `BareWorkflow` started with its first trivial Update
  in one call, answered by the worker: the bare shape of what opening a case does.
* `case_opening.client`: `CaseCommands.open` (update-with-start of the case workflow; returns
  once the opening events and projections are stored).
* `case_opening.api`: `POST /cases` (the same, plus auth, the person index and the read-back).

`ratio` is cases/s over `bare_start`; `ratio_to_update_with_start` compares like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from bench.baseline import BareWorkflow
from bench.stack import Stack, cpu_seconds, open_body, open_command, running_stack
from bench.stats import emit, summary

Open = Callable[[int], Awaitable[object]]


async def in_parallel(total: int, concurrency: int, op: Open) -> tuple[list[float], float]:
    """`op(0..total-1)` by `concurrency` sequential callers; (latencies, wall seconds)."""
    samples: list[float] = []
    counter = iter(range(total))

    async def caller() -> None:
        for n in counter:
            began = time.perf_counter()
            await op(n)
            samples.append(time.perf_counter() - began)

    began = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, total)):
            group.create_task(caller())
    return samples, time.perf_counter() - began


async def measure(
    name: str, stack: Stack, total: int, concurrency: int, op: Open
) -> dict[str, Any]:
    server_pid = stack.server.pid
    assert server_pid is not None
    cpu_py, cpu_srv = cpu_seconds(os.getpid()), cpu_seconds(server_pid)
    samples, elapsed = await in_parallel(total, concurrency, op)
    cpu_py, cpu_srv = cpu_seconds(os.getpid()) - cpu_py, cpu_seconds(server_pid) - cpu_srv
    return summary(
        name,
        samples,
        cases=total,
        concurrency=concurrency,
        seconds=round(elapsed, 3),
        cases_per_s=round(total / elapsed, 1),
        cpu_ms_per_case_python=round(cpu_py * 1000 / total, 2),
        cpu_ms_per_case_temporal=round(cpu_srv * 1000 / total, 2),
    )


async def run(total: int, concurrency: int) -> list[dict[str, Any]]:
    async with running_stack() as stack:
        client = stack.client
        bare_ids: list[str] = []

        async def bare_start(_n: int) -> object:
            workflow_id = f"bench-open-{uuid.uuid4()}"
            bare_ids.append(workflow_id)
            return await client.start_workflow(
                BareWorkflow.run, id=workflow_id, task_queue=stack.bare_queue
            )

        async def bare_update_with_start(_n: int) -> object:
            workflow_id = f"bench-open-{uuid.uuid4()}"
            bare_ids.append(workflow_id)
            start = WithStartWorkflowOperation(
                BareWorkflow.run,
                id=workflow_id,
                task_queue=stack.bare_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return await client.execute_update_with_start_workflow(
                BareWorkflow.bump, 1, start_workflow_operation=start
            )

        async def by_client(n: int) -> object:
            return await stack.commands.open(open_command(n))

        token = await stack.sign_in()
        async with stack.http(token, connections=concurrency + 10) as http:

            async def by_api(n: int) -> object:
                answer = await http.post("/cases", json=open_body(n))
                answer.raise_for_status()
                return answer

            results = [
                await measure("case_opening.bare_start", stack, total, concurrency, bare_start),
                await measure(
                    "case_opening.bare_update_with_start",
                    stack,
                    total,
                    concurrency,
                    bare_update_with_start,
                ),
                await measure("case_opening.client", stack, total, concurrency, by_client),
                await measure("case_opening.api", stack, total, concurrency, by_api),
            ]
        # Let the bare workflows end, so the next benchmark starts on a quiet server.
        await asyncio.gather(
            *(client.get_workflow_handle(i).signal(BareWorkflow.finish) for i in bare_ids)
        )
    base = results[0]["cases_per_s"]
    like = results[1]["cases_per_s"]
    for result in results:
        result["ratio"] = round(result["cases_per_s"] / base, 3)
        result["ratio_to_update_with_start"] = round(result["cases_per_s"] / like, 3)
        result["load_avg_1m"] = round(os.getloadavg()[0], 2)
        emit(result)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300, help="cases opened per series")
    parser.add_argument("--concurrency", type=int, default=20, help="openers at once")
    args = parser.parse_args(argv)
    asyncio.run(run(args.cases, args.concurrency))


if __name__ == "__main__":
    main()

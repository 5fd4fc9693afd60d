"""Case lists and overdue cases through Temporal visibility, against Amparo's projection.

    .venv/bin/python -m bench.visibility_queries [--cases 10000]

The other way a supervisor's list could be answered: Temporal's visibility store, queried
on the search attributes the case workflow upserts. The same `--cases` cases
(`bench.case_queries`' dataset: one in ten stuck) are loaded into a SQLite store, and
started on the dev server as `ProtectionCaseWorkflow`s carrying those search attributes
(CaseStatus, CaseOverdue, CaseOpenSteps, AssignedTo, CrimeType), all untimed. No worker
polls their task queue: only visibility is measured. Before timing, the bench checks that
visibility counts what the store counts for each filter.

Timed, alternating, first pages of 50: `CaseReads.list` unfiltered, by caseworker, by open
step and overdue, against `list_workflows` with the same filter. One JSON line per query:
Amparo's p50/p95, visibility's, and `ratio` = visibility p50 / Amparo p50 (above 1:
Amparo's projection answers faster). The default size is 10,000, not `case_queries`'
100,000: starting 100,000 workflows takes about 20 minutes here.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from amparo.devstack import DevServer, DevServerConfig
from amparo.logging import configure_logging
from bench.case_queries import CASEWORKER, Dataset, dataset, load
from bench.projection_rebuild import fresh_database
from bench.stack import free_port
from bench.stats import emit, percentile, summary
from domain.vocabulary import FINAL_STATES, Step
from store.read_models import CaseReads
from workflows import search_attributes as sa

WORKFLOW_TYPE = "ProtectionCaseWorkflow"
CASES = f"WorkflowType = '{WORKFLOW_TYPE}'"

# name: (`CaseReads.list`'s filters, visibility's query for the same cases)
QUERIES: dict[str, tuple[dict[str, Any], str]] = {
    "list": ({}, CASES),
    "list_assigned_to": ({"assigned_to": CASEWORKER}, f"{CASES} AND AssignedTo = '{CASEWORKER}'"),
    "list_step": (
        {"step": Step.SHELTER},
        f"{CASES} AND CaseOpenSteps = '{Step.SHELTER.value}'",
    ),
    "list_overdue": ({"overdue": True}, f"{CASES} AND CaseOverdue = true"),
}


def attributes(data: Dataset) -> dict[uuid.UUID, TypedSearchAttributes]:
    """Each case's search attributes, as the case workflow upserts them."""
    open_steps: dict[uuid.UUID, list[str]] = {}
    for row in data.steps:
        if row["state"] not in FINAL_STATES:
            open_steps.setdefault(row["case_id"], []).append(str(row["step"]))
    return {
        row["case_id"]: TypedSearchAttributes(
            [
                SearchAttributePair(sa.CASE_STATUS, str(row["status"])),
                SearchAttributePair(sa.CASE_OVERDUE, bool(row["overdue"])),
                SearchAttributePair(sa.CASE_OPEN_STEPS, open_steps.get(row["case_id"], [])),
                SearchAttributePair(sa.ASSIGNED_TO, str(row["assigned_to"])),
                SearchAttributePair(sa.CRIME_TYPE, str(row["crime_type"])),
            ]
        )
        for row in data.cases
    }


async def start_all(
    client: Client, found: dict[uuid.UUID, TypedSearchAttributes], at_once: int
) -> None:
    """One workflow per case, on a task queue nobody polls."""
    queue = f"bench-visibility-{uuid.uuid4()}"
    pending = iter(found.items())

    async def starter() -> None:
        for case_id, attrs in pending:
            await client.start_workflow(
                WORKFLOW_TYPE, id=f"case-{case_id}", task_queue=queue, search_attributes=attrs
            )

    await asyncio.gather(*(starter() for _ in range(at_once)))


async def visible(client: Client, query: str, expected: int, limit: float = 300) -> None:
    """Until visibility counts `expected` workflows for `query` (it lags the starts)."""
    began = time.perf_counter()
    while (count := (await client.count_workflows(query)).count) != expected:
        if time.perf_counter() - began > limit:
            raise RuntimeError(f"visibility counts {count} for {query!r}, the store {expected}")
        await asyncio.sleep(0.5)


async def first_page(client: Client, query: str) -> int:
    found = 0
    async for _ in client.list_workflows(query, page_size=50, limit=50):
        found += 1
    return found


async def sampled(
    reads: CaseReads, client: Client, filters: dict[str, Any], query: str, n: int
) -> tuple[list[float], list[float]]:
    """`n` first pages each way, alternating."""
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(n):
        began = time.perf_counter()
        reads.list(**filters)
        ours.append(time.perf_counter() - began)
        began = time.perf_counter()
        await first_page(client, query)
        theirs.append(time.perf_counter() - began)
    return ours, theirs


def store_count(reads: CaseReads, filters: dict[str, Any]) -> int:
    """How many cases Amparo's list finds, page by page."""
    count, cursor = 0, None
    while True:
        page = reads.list(**filters, limit=200, cursor=cursor)
        count += len(page.items)
        if page.next_cursor is None:
            return count
        cursor = page.next_cursor


async def run(args: argparse.Namespace) -> None:
    data = dataset(args)
    found = attributes(data)
    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        server = DevServer(
            DevServerConfig(data_dir=Path(tmp) / "temporal", port=free_port(), headless=True)
        )
        await server.start()
        try:
            with fresh_database("sqlite", Path(tmp)) as engine:
                load(engine, data)
                reads = CaseReads(engine)
                client = await Client.connect(server.config.address)
                began = time.perf_counter()
                await start_all(client, found, args.concurrency)
                await visible(client, CASES, len(found))
                emit({"name": "visibility_queries.load", "cases": len(found),
                      "seconds": round(time.perf_counter() - began, 1)})  # fmt: skip
                for name, (filters, query) in QUERIES.items():
                    await visible(client, query, store_count(reads, filters))
                    ours, theirs = await sampled(reads, client, filters, query, args.samples)
                    result = summary(f"visibility_queries.{name}", ours, cases=len(found))
                    p50, p95 = (percentile(theirs, q) * 1000 for q in (0.5, 0.95))
                    result.update(visibility_p50_ms=round(p50, 2),
                                  visibility_p95_ms=round(p95, 2),
                                  ratio=round(p50 / result["p50_ms"], 3))  # fmt: skip
                    emit(result)
        finally:
            await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=50, help="workflow starts at once")
    parser.add_argument("--histories", type=int, default=2_000)
    parser.add_argument("--caseworkers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    args.institutions = 1
    configure_logging("WARNING", "json")  # logs to stderr: stdout is for the JSON results
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

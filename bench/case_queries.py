"""Supervisor queries over many cases: through `CaseReads` and as the same SQL, raw.

    .venv/bin/python -m bench.case_queries --cases 100000 --backend both [--explain]

Rows (untimed): `--histories` realistic histories (`tests.support.cases.random_cases`)
folded by the domain and turned into rows by `store.projections.case_row`/`step_rows`,
replicated to `--cases` with fresh case ids (in the `state` document too) and the
caseworker spread over `--caseworkers` names. One case in ten is a copy of a history with
an open overdue step in an open case, the others of histories without one (closed cases
whose steps were left open keep `overdue` true in the projection: they are left out, so
exactly 10% are overdue). PostgreSQL is ANALYZEd (autovacuum would be); SQLite is not
(nothing runs ANALYZE on an embedded store).

First pages of 50: `stuck` (cases with an open overdue step, most overdue first by that
step's `due_at`; `CaseReads` has no such query yet, so this is the query a
`CaseReads.stuck` would run, through the same summary path), `stuck_by_case` (the same
board from `cases.overdue`/`next_due_at`, on their existing index), `CaseReads.list`
unfiltered and filtered by assigned_to, by step, by overdue. Raw: the same SQL through the
driver's cursor, page and its steps, no models. Samples alternate between the two.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, Select, func, insert, select, true

from bench.projection_rebuild import POSTGRES_URL, fresh_database
from bench.stats import emit, summary
from domain.vocabulary import FINAL_STATES, Step
from store.db import is_sqlite
from store.projections import case_row, step_rows
from store.read_models import CaseReads, Page
from store.schema import case_steps, cases
from tests.support.cases import random_cases, uuid_from

FINAL = sorted(state.value for state in FINAL_STATES)
_SUMMARY = [c for c in cases.c if c.name != "state"]
_OPEN = f"state NOT IN ({', '.join(repr(s) for s in FINAL)})"
_COLUMNS = ", ".join(f"cases.{c.name}" for c in _SUMMARY)
_LIST = f"SELECT {_COLUMNS} FROM cases {{where}} ORDER BY opened_at DESC, case_id LIMIT 51"
STUCK_SQL = (
    f"SELECT {_COLUMNS} FROM cases JOIN (SELECT case_id, min(due_at) AS due_at FROM case_steps"
    f" WHERE overdue = ? AND {_OPEN} GROUP BY case_id) AS worst"
    " ON worst.case_id = cases.case_id ORDER BY worst.due_at, cases.case_id LIMIT 50"
)
RAW_SQL: dict[str, tuple[str, tuple[Any, ...]]] = {
    "stuck": (STUCK_SQL, (True,)),
    "stuck_by_case": (
        f"SELECT {_COLUMNS} FROM cases WHERE overdue = ? ORDER BY next_due_at, case_id LIMIT 50",
        (True,),
    ),
    "list": (_LIST.format(where=""), ()),
    "list_assigned_to": (_LIST.format(where="WHERE assigned_to = ?"), ("caseworker.7",)),
    "list_step": (
        _LIST.format(
            where="WHERE EXISTS (SELECT 1 FROM case_steps WHERE case_steps.case_id ="
            f" cases.case_id AND case_steps.step = ? AND case_steps.{_OPEN})"
        ),
        (Step.SHELTER.value,),
    ),
    "list_overdue": (_LIST.format(where="WHERE overdue = ?"), (True,)),
}


def stuck_query(limit: int = 50) -> Select[Any]:
    """Cases with an open overdue step, the longest overdue first."""
    worst = (
        select(case_steps.c.case_id, func.min(case_steps.c.due_at).label("due_at"))
        .where(case_steps.c.overdue == true(), case_steps.c.state.not_in(FINAL))
        .group_by(case_steps.c.case_id)
        .subquery("worst")
    )
    joined = select(*_SUMMARY).join(worst, worst.c.case_id == cases.c.case_id)
    return joined.order_by(worst.c.due_at, cases.c.case_id).limit(limit)


def stuck_by_case_query(limit: int = 50) -> Select[Any]:
    """The same board from the `cases` columns: an overdue case's `next_due_at` is its
    longest-overdue open step's `due_at` (an earlier open deadline would have fired)."""
    query = select(*_SUMMARY).where(cases.c.overdue == true())
    return query.order_by(cases.c.next_due_at, cases.c.case_id).limit(limit)


def through_reads(reads: CaseReads) -> dict[str, Callable[[], object]]:
    return {
        "stuck": lambda: reads._summaries(stuck_query()),  # what a CaseReads.stuck would run
        "stuck_by_case": lambda: reads._summaries(stuck_by_case_query()),
        "list": lambda: reads.list(),
        "list_assigned_to": lambda: reads.list(assigned_to="caseworker.7"),
        "list_step": lambda: reads.list(step=Step.SHELTER),
        "list_overdue": lambda: reads.list(overdue=True),
    }


def raw_query(
    stack: ExitStack, engine: Engine, sql: str, params: tuple[Any, ...]
) -> Callable[[], object]:
    """The page, then its steps, through the driver's own cursor."""
    raw = engine.raw_connection()
    stack.callback(raw.close)
    cursor = raw.cursor()
    sql = sql if is_sqlite(engine) else sql.replace("?", "%s")
    mark = "?" if is_sqlite(engine) else "%s"

    def run() -> object:
        cursor.execute(sql, params)
        page = cursor.fetchall()
        if page:
            marks = ", ".join(mark for _ in page)
            steps = f"SELECT * FROM case_steps WHERE case_id IN ({marks})"
            cursor.execute(steps, [row[0] for row in page])
            cursor.fetchall()
        raw.rollback()  # end the read transaction, as a pooled connection's return does
        return page

    return run


def case_rows(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`--cases` rows of `cases` and their `case_steps` rows, 10% of them overdue."""
    states = [h.state for h in random_cases(args.seed, args.histories)]
    pools: dict[bool, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = {True: [], False: []}
    for state in states:
        row = case_row(state)
        if not (row["overdue"] and row["status"] == "closed"):
            pools[row["overdue"]].append((row, step_rows(state)))
    rng, found, steps = random.Random(f"replicas {args.seed}"), [], []
    for index in range(args.cases):
        row, rows = rng.choice(pools[index % 10 == 0])
        case_id, worker = uuid_from(rng), f"caseworker.{rng.randrange(args.caseworkers)}"
        document = {**row["state"], "case_id": str(case_id), "assigned_to": worker}
        found.append({**row, "case_id": case_id, "assigned_to": worker, "state": document})
        steps += [{**step, "case_id": case_id} for step in rows]
    return found, steps


def load(engine: Engine, rows: list[dict[str, Any]], steps: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for table, part in ((cases, rows), (case_steps, steps)):
            for start in range(0, len(part), 10_000):
                conn.execute(insert(table), part[start : start + 10_000])
        if not is_sqlite(engine):
            conn.exec_driver_sql("ANALYZE")


def explain(engine: Engine, backend: str, name: str, sql: str, params: tuple[Any, ...]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if is_sqlite(engine):
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = [" " * 3 * (row[1] > 0) + str(row[3]) for row in cursor.fetchall()]
        else:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql.replace('?', '%s')}", params)
            plan = [row[0] for row in cursor.fetchall()]
        emit({"name": "case_queries.plan", "backend": backend, "query": name, "plan": plan})
    finally:
        raw.close()


def measure(args: argparse.Namespace, engine: Engine, backend: str) -> None:
    reads, stack = CaseReads(engine), ExitStack()
    for name, through in through_reads(reads).items():
        raw = raw_query(stack, engine, *RAW_SQL[name])
        samples: dict[str, list[float]] = {"case_reads": [], "raw": []}
        began = time.perf_counter()
        for index in range(args.warmup + args.samples):
            if index > args.warmup + 10 and time.perf_counter() - began > args.max_seconds:
                break  # a slow query: enough samples for its percentiles
            for variant, run in (("case_reads", through), ("raw", raw)):
                start = time.perf_counter()
                run()
                if index >= args.warmup:
                    samples[variant].append(time.perf_counter() - start)
        base = summary(f"case_queries.{name}", samples["raw"], backend=backend, variant="raw")
        for variant in ("raw", "case_reads"):
            result = summary(f"case_queries.{name}", samples[variant], backend=backend,
                             variant=variant, cases=args.cases)  # fmt: skip
            result["ratio_p50"] = round(base["p50_ms"] / result["p50_ms"], 3)
            result["ratio_p95"] = round(base["p95_ms"] / result["p95_ms"], 3)
            result["p95_under_50ms"] = result["p95_ms"] < 50
            emit(result)
        if args.explain:
            explain(engine, backend, name, *RAW_SQL[name])
    stack.close()


def check_same_pages(engine: Engine) -> None:
    """The raw SQL returns the pages `CaseReads` returns (same ids, same order)."""
    with ExitStack() as stack:
        for name, through in through_reads(CaseReads(engine)).items():
            found: Any = through()
            items = found.items if isinstance(found, Page) else found
            raw: Any = raw_query(stack, engine, *RAW_SQL[name])()
            ids = [row[0] if isinstance(row[0], UUID) else UUID(row[0]) for row in raw[:50]]
            assert [s.case_id for s in items] == ids, f"{name}: raw SQL and CaseReads disagree"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--histories", type=int, default=2_000)
    parser.add_argument("--caseworkers", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="per query, both ways")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    rows, steps = case_rows(args)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        for backend in backends:
            with fresh_database(backend, Path(tmp), args.postgres_url) as engine:
                started = time.perf_counter()
                load(engine, rows, steps)
                seconds = round(time.perf_counter() - started, 1)
                emit({"name": "case_queries.load", "backend": backend, "cases": len(rows),
                      "steps": len(steps), "seconds": seconds})  # fmt: skip
                check_same_pages(engine)
                measure(args, engine, backend)


if __name__ == "__main__":
    main()

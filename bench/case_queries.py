"""The supervisor's and caseworkers' read models at scale, each against the same SQL, raw.

    .venv/bin/python -m bench.case_queries --cases 100000 --backend both [--explain]

Rows (untimed): `--histories` realistic histories (`tests.support.cases.random_cases`)
folded by the domain and turned into rows by `store.projections.case_row`/`step_rows`,
replicated to `--cases` with fresh case ids, the caseworker spread over `--caseworkers`
names and the institution over `--institutions` (the board is the first one's). Each
replica is moved in time so that the bench's `NOW` falls where its kind allows:

- one case in ten is stuck: a history whose SLA timer had flagged a step overdue, seen up
  to 60 days after its last event (so some of its waiting steps are stale as well); one
  stuck case in ten also has a delivery that keeps failing (`delivery_failures`);
- the others are closed cases (seen up to two years on; one in a hundred keeps a failing
  delivery, which the board must ignore), open cases whose every step is final, and open
  cases seen before their first deadline or stale date. Histories stuck without the
  timer's flag are left out, so `cases.overdue` holds for exactly the stuck 10%.

Only the columns move; the `state` document keeps the history's own times (no query here
reads it). The workload projection is filled from those rows as migration 0009 does.
PostgreSQL is VACUUMed and ANALYZEd (autovacuum would do both after the bulk load); SQLite
is not ANALYZEd (nothing runs ANALYZE on an embedded store).

Queries (first pages of 50): `SupervisionReads.stuck` unfiltered and by reason (stale),
step and caseworker; `SupervisionReads.workload`; `CaseReads.list` unfiltered and by
assigned_to, step and overdue. Raw: the same SQL through the driver's cursor, no models
(a list page also fetches its steps, as `CaseReads` does); the bench first checks that it
returns what the read model returns. Samples alternate between the two. One JSON line per
query and backend: amparo's p50/p95, the raw ones, and `ratio` = raw p50 / amparo p50.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, insert

from bench.projection_rebuild import POSTGRES_URL, fresh_database
from bench.stats import emit, percentile, summary
from domain.state import CaseState
from domain.supervision import StuckReason, stale_since
from domain.vocabulary import FINAL_STATES, CaseStatus, Step
from store.db import is_sqlite
from store.projections import case_row, step_rows
from store.read_models import CaseReads
from store.schema import case_steps, cases, delivery_failures
from store.supervision import SupervisionReads
from tests.support.cases import random_cases, uuid_from

NOW = datetime(2026, 1, 1, tzinfo=UTC)
INSTITUTIONS = ("MIMP", "Defensoria", "MINSA", "Migraciones", "CEM Lima")
CASEWORKER = "caseworker.7"
DAY = timedelta(days=1)

# --- the dataset -------------------------------------------------------------------------


@dataclass
class Dataset:
    cases: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def kind_of(state: CaseState) -> str | None:
    """Which pool a history goes to; None: stuck without the timer's flag (left out)."""
    if not state.is_open:
        return "closed"
    if case_row(state)["overdue"]:
        return "stuck"
    soonest, end = first_deadline(state), last_event(state)
    if soonest is None:
        return "idle"
    return "waiting" if soonest > end else None


def first_deadline(state: CaseState) -> datetime | None:
    """The first moment the case turns stuck: an open step's due date or stale date."""
    found = [s.due_at for s in state.open_steps()]
    found += [t for s in state.open_steps() if (t := stale_since(s, state.sla.stale_days))]
    return min(found, default=None)


def last_event(state: CaseState) -> datetime:
    assert state.last_event_at is not None
    return state.last_event_at


def seen_at(rng: random.Random, kind: str, state: CaseState) -> datetime:
    """When (in the history's own time) the replica is looked at: NOW maps to this."""
    end = last_event(state)
    if kind == "waiting":
        soonest = first_deadline(state)
        assert soonest is not None
        return end + (soonest - end) * rng.random()
    return end + rng.uniform(0, 730 if kind == "closed" else 60) * DAY


def shifted(row: dict[str, Any], delta: timedelta, **changes: Any) -> dict[str, Any]:
    moved = {k: v + delta if isinstance(v, datetime) else v for k, v in row.items()}
    return {**moved, **changes}


def dataset(args: argparse.Namespace) -> Dataset:
    """`--cases` rows of `cases`, their `case_steps` and a few `delivery_failures`."""
    pools: dict[bool, list[tuple[str, CaseState]]] = {True: [], False: []}
    for history in random_cases(args.seed, args.histories):
        kind = kind_of(history.state)
        if kind is not None:
            pools[kind == "stuck"].append((kind, history.state))
    rng, found = random.Random(f"replicas {args.seed}"), Dataset()
    institutions = INSTITUTIONS[: args.institutions]
    for index in range(args.cases):
        kind, state = rng.choice(pools[index % 10 == 0])
        delta = NOW - seen_at(rng, kind, state)
        case_id = uuid_from(rng)
        common = {"case_id": case_id}
        worker = f"caseworker.{rng.randrange(args.caseworkers)}"
        found.cases.append(
            shifted(case_row(state), delta, **common, assigned_to=worker,
                    institution=rng.choice(institutions))
        )  # fmt: skip
        found.steps += [shifted(step, delta, **common) for step in step_rows(state)]
        if (kind == "stuck" and index % 100 == 0) or (kind == "closed" and index % 100 == 1):
            found.failures.append(failure(rng, case_id))
    return found


def failure(rng: random.Random, case_id: UUID) -> dict[str, Any]:
    return {
        "delivery_id": uuid_from(rng), "case_id": case_id, "kind": "email",
        "since": NOW - rng.uniform(0, 14) * DAY, "attempts": rng.randint(3, 9),
        "error": "451 4.3.0 try again later",
    }  # fmt: skip


def load(engine: Engine, data: Dataset) -> None:
    with engine.begin() as conn:
        for table, part in ((cases, data.cases), (case_steps, data.steps),
                            (delivery_failures, data.failures)):  # fmt: skip
            for start in range(0, len(part), 10_000):
                conn.execute(insert(table), part[start : start + 10_000])
        for fill in WORKLOAD_FILL:
            conn.exec_driver_sql(fill)
    if not is_sqlite(engine):  # outside a transaction, as autovacuum would after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


# --- the queries, both ways --------------------------------------------------------------

FINAL = ", ".join(sorted(f"'{s.value}'" for s in FINAL_STATES))
OPEN = f"'{CaseStatus.OPEN.value}', '{CaseStatus.CLOSURE_REQUESTED.value}'"
SUMMARY = ", ".join(f"cases.{c.name}" for c in cases.c if c.name != "state")
LIST = f"SELECT {SUMMARY} FROM cases {{where}} ORDER BY opened_at DESC, case_id LIMIT 51"
OPEN_STEP_OF_CASE = (
    "EXISTS (SELECT 1 FROM case_steps WHERE case_steps.case_id = cases.case_id"
    f" AND case_steps.step = ? AND case_steps.state NOT IN ({FINAL}))"
)


@dataclass(frozen=True)
class Query:
    amparo: Callable[[SupervisionReads, CaseReads], Any]
    sql: str
    params: tuple[Any, ...] = ()
    page_of_cases: bool = False  # the raw way also fetches the page's steps, as CaseReads does


IN_SCOPE = f"x.case_id = {{t}}.case_id AND x.institution = ? AND x.status IN ({OPEN})"
FLOOR = {  # no row stuck for the reason is before it (see store.supervision._floor)
    "due_at": "(SELECT min(next_due_at) FROM cases WHERE institution = ?)",
    "stale_at": (
        "(SELECT min(at) FROM (SELECT min(opened_at) AS at FROM cases WHERE status = 'open'"
        " UNION ALL SELECT min(opened_at) FROM cases WHERE status = 'closure_requested')"
        " AS firsts)"
    ),
}
SINCE = {StuckReason.OVERDUE: "due_at", StuckReason.STALE: "stale_at"}


def steps_branch(reason: StuckReason, step: Step | None, caseworker: str | None) -> Query:
    """Rows stuck for `reason` by the path `SupervisionReads` takes for these filters (see
    store.supervision._stuck_steps); one page of them, then their columns."""
    since, mine = SINCE[reason], "AND x.assigned_to = ?" if caseworker else ""
    where, params = f"w.state NOT IN ({FINAL}) AND w.{since} <= ?", list[Any]([NOW])
    if step is not None:
        where += " AND w.step = ?"
        params.append(step.value)
    source = "case_steps AS w"
    if reason is StuckReason.OVERDUE and step is None:  # the first page: the worst cases'
        where += (
            " AND w.case_id IN (SELECT case_id FROM cases AS x WHERE x.institution = ?"
            f" AND x.status IN ({OPEN}) {mine} AND x.next_due_at <= ?"
            " ORDER BY x.next_due_at, x.case_id LIMIT 51)"
        )
        params += [INSTITUTIONS[0], *([caseworker] if caseworker else []), NOW]
    elif caseworker is not None:
        source += " JOIN cases AS x ON x.case_id = w.case_id"
        where += f" AND {IN_SCOPE.format(t='w')} {mine}"
        params += [INSTITUTIONS[0], caseworker]
    else:
        where += f" AND w.{since} >= {FLOOR[since]} AND EXISTS (SELECT 1 FROM cases AS x WHERE"
        where += f" {IN_SCOPE.format(t='w')})"
        params += [INSTITUTIONS[0]] if since == "due_at" else []
        params.append(INSTITUTIONS[0])
    page = (
        f"SELECT w.case_id, w.step, w.{since} AS since FROM {source} WHERE {where}"
        " ORDER BY since, w.case_id, w.step LIMIT 51"
    )
    sql = (
        "SELECT p.case_id, p.step, s.due_at, c.assigned_to, s.acknowledged, s.escalated,"
        f" '{reason.value}' AS reason, p.since FROM ({page}) AS p"
        " JOIN case_steps AS s ON s.case_id = p.case_id AND s.step = p.step"
        " JOIN cases AS c ON c.case_id = p.case_id"
    )
    return Query(lambda *_: None, sql, tuple(params))


def failing_branch(step: Step | None, caseworker: str | None) -> Query:
    """Cases with a delivery that keeps failing: walked in `since` order, or from the
    caseworker's cases."""
    if caseworker is None:
        source = "delivery_failures AS f"
        where = f"EXISTS (SELECT 1 FROM cases AS x WHERE {IN_SCOPE.format(t='f')})"
    else:
        source = "delivery_failures AS f JOIN cases AS x ON x.case_id = f.case_id"
        where = f"{IN_SCOPE.format(t='f')} AND x.assigned_to = ?"
    where += " AND 1 = 0" if step is not None else ""  # a failing delivery has no step
    page = (
        f"SELECT f.since, f.case_id FROM {source} WHERE {where}"
        " ORDER BY f.since, f.case_id LIMIT 51"
    )
    sql = (
        "SELECT p.case_id, '' AS step, {null_time} AS due_at, c.assigned_to,"
        " false AS acknowledged, false AS escalated, 'delivery_failing' AS reason, p.since"
        f" FROM ({page}) AS p JOIN cases AS c ON c.case_id = p.case_id"
    )
    return Query(lambda *_: None, sql, (INSTITUTIONS[0], *([caseworker] if caseworker else [])))


def stuck_sql(
    reason: StuckReason | None = None, step: Step | None = None, caseworker: str | None = None
) -> tuple[str, tuple[Any, ...]]:
    """The board's first page as `SupervisionReads.stuck` asks for it: each reason's rows
    ordered and cut to a page on their own, then merged."""
    branches = [
        failing_branch(step, caseworker)
        if branch is StuckReason.DELIVERY_FAILING
        else steps_branch(branch, step, caseworker)
        for branch in ([reason] if reason else BOARD_REASONS)
    ]
    merged = " UNION ALL ".join(b.sql for b in branches)
    sql = f"SELECT * FROM ({merged}) AS merged ORDER BY since, case_id, step, reason LIMIT 51"
    return sql, tuple(p for b in branches for p in b.params)


BOARD_REASONS = (StuckReason.OVERDUE, StuckReason.STALE, StuckReason.DELIVERY_FAILING)
WORKLOAD_SQL = (
    "SELECT load.caseworker, load.open_cases, load.open_steps,"
    " coalesce(late.overdue_steps, 0) AS overdue_steps, late.oldest_overdue"
    " FROM caseworker_load AS load LEFT OUTER JOIN"
    " (SELECT caseworker, count(*) AS overdue_steps, min(due_at) AS oldest_overdue"
    " FROM caseworker_deadlines WHERE institution = ? AND due_at <= ? GROUP BY caseworker)"
    " AS late ON late.caseworker = load.caseworker"
    " WHERE load.institution = ? ORDER BY load.caseworker"
)
# The workload projection of the rows loaded, as migration 0009 fills it from `cases`.
WORKLOAD_FILL = (
    "INSERT INTO caseworker_load (institution, caseworker, open_cases, open_steps)"
    " SELECT institution, assigned_to, count(*), sum(open_steps) FROM cases"
    f" WHERE status IN ({OPEN}) AND institution IS NOT NULL AND assigned_to IS NOT NULL"
    " GROUP BY institution, assigned_to",
    "INSERT INTO caseworker_deadlines (case_id, step, institution, caseworker, due_at)"
    " SELECT s.case_id, s.step, c.institution, c.assigned_to, s.due_at"
    " FROM case_steps AS s JOIN cases AS c ON c.case_id = s.case_id"
    f" WHERE c.status IN ({OPEN}) AND c.institution IS NOT NULL"
    f" AND c.assigned_to IS NOT NULL AND s.state NOT IN ({FINAL})",
)


def queries() -> dict[str, Query]:
    def board(**filters: Any) -> Query:
        sql, params = stuck_sql(**filters)
        return Query(lambda s, _: s.stuck(INSTITUTIONS[0], NOW, **filters), sql, params)

    def listing(where: str, params: tuple[Any, ...] = (), **filters: Any) -> Query:
        sql = LIST.format(where=f"WHERE {where}" if where else "")
        return Query(lambda _, c: c.list(**filters), sql, params, page_of_cases=True)

    return {
        "stuck": board(),
        "stuck_stale": board(reason=StuckReason.STALE),
        "stuck_step": board(step=Step.SHELTER),
        "stuck_caseworker": board(caseworker=CASEWORKER),
        "workload": Query(
            lambda s, _: s.workload(INSTITUTIONS[0], NOW),
            WORKLOAD_SQL,
            (INSTITUTIONS[0], NOW, INSTITUTIONS[0]),
        ),
        "list": listing(""),
        "list_assigned_to": listing("assigned_to = ?", (CASEWORKER,), assigned_to=CASEWORKER),
        "list_step": listing(OPEN_STEP_OF_CASE, (Step.SHELTER.value,), step=Step.SHELTER),
        "list_overdue": listing("overdue = ?", (True,), overdue=True),
    }


def driver_sql(engine: Engine, query: Query) -> tuple[str, tuple[Any, ...]]:
    """The query's text and parameters as the driver takes them (SQLite: times as text)."""
    sql = query.sql.replace("{null_time}", "NULL" if is_sqlite(engine) else "NULL::timestamptz")
    if is_sqlite(engine):
        to_text = case_steps.c.due_at.type.dialect_impl(engine.dialect).bind_processor(
            engine.dialect
        )
        assert to_text is not None
        return sql, tuple(to_text(p) if isinstance(p, datetime) else p for p in query.params)
    return sql.replace("?", "%s"), query.params


def raw_query(stack: ExitStack, engine: Engine, query: Query) -> Callable[[], list[Any]]:
    """The query through the driver's own cursor, on a connection of its own."""
    raw = engine.raw_connection()
    stack.callback(raw.close)
    cursor = raw.cursor()
    sql, params = driver_sql(engine, query)
    mark = "?" if is_sqlite(engine) else "%s"

    def run() -> list[Any]:
        cursor.execute(sql, params)
        found = list(cursor.fetchall())
        if query.page_of_cases and found:
            marks = ", ".join(mark for _ in found)
            cursor.execute(f"SELECT * FROM case_steps WHERE case_id IN ({marks})",
                           [row[0] for row in found])  # fmt: skip
            cursor.fetchall()
        raw.rollback()  # end the read transaction, as a pooled connection's return does
        return found

    return run


# --- same answers, then timings ----------------------------------------------------------


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def answer(found: Any) -> list[tuple[Any, ...]]:
    """What a read model returned, in the shape `raw_answer` gives the driver's rows."""
    if isinstance(found, list):  # the workload
        return [(w.caseworker, w.open_cases, w.open_steps, w.overdue_steps, w.oldest_overdue)
                for w in found]  # fmt: skip
    if found.items and hasattr(found.items[0], "reason"):  # the board
        return [(i.case_id, i.step.value if i.step else "", i.reason.value, i.since)
                for i in found.items]  # fmt: skip
    return [(s.case_id,) for s in found.items]


def raw_answer(name: str, rows: list[Any]) -> list[tuple[Any, ...]]:
    if name == "workload":
        return [(r[0], r[1], r[2], r[3], as_time(r[4])) for r in rows]
    if name.startswith("stuck"):
        return [(as_uuid(r[0]), r[1], r[6], as_time(r[7])) for r in rows[:50]]
    return [(as_uuid(r[0]),) for r in rows[:50]]


def check_same_answers(engine: Engine) -> None:
    """The raw SQL returns what the read models return (same rows, same order)."""
    board, lists = SupervisionReads(engine), CaseReads(engine)
    with ExitStack() as stack:
        for name, query in queries().items():
            found = answer(query.amparo(board, lists))
            assert found, f"{name}: an empty answer measures nothing"
            raw = raw_answer(name, raw_query(stack, engine, query)())
            assert found == raw, f"{name}: raw SQL and the read model disagree"


def counts(engine: Engine) -> dict[str, int]:
    """How many cases the board shows, by reason, and how many are flagged overdue."""
    sql, params = driver_sql(engine, Query(lambda *_: None, *stuck_sql()))
    whole = sql.replace("LIMIT 51", "")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT reason, case_id FROM ({whole}) AS board", params)
        by_reason: dict[str, set[Any]] = {}
        for reason, case_id in rows:
            by_reason.setdefault(reason, set()).add(case_id)
        overdue = conn.exec_driver_sql(
            "SELECT count(*) FROM cases WHERE overdue = ? AND institution = ?"
            if is_sqlite(engine) else
            "SELECT count(*) FROM cases WHERE overdue = %s AND institution = %s",
            (True, INSTITUTIONS[0]),
        ).scalar_one()  # fmt: skip
    stuck = set().union(*by_reason.values())
    found = {f"{reason}_cases": len(ids) for reason, ids in sorted(by_reason.items())}
    return {"stuck_cases": len(stuck), "overdue_flagged": overdue, **found}


def explain(engine: Engine, backend: str, name: str, query: Query) -> None:
    raw = engine.raw_connection()
    sql, params = driver_sql(engine, query)
    try:
        cursor = raw.cursor()
        if is_sqlite(engine):
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            depth: dict[int, int] = {0: -1}
            plan = []
            for node, parent, _, detail in cursor.fetchall():
                depth[node] = depth.get(parent, -1) + 1
                plan.append("   " * depth[node] + str(detail))
        else:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = [row[0] for row in cursor.fetchall()]
        emit({"name": "case_queries.plan", "backend": backend, "query": name, "plan": plan})
    finally:
        raw.close()


def measure(args: argparse.Namespace, engine: Engine, backend: str) -> None:
    board, lists, stack = SupervisionReads(engine), CaseReads(engine), ExitStack()
    for name, query in queries().items():
        if args.only and name not in args.only:
            continue
        ways: dict[str, Callable[[], Any]] = {
            "amparo": lambda q=query: q.amparo(board, lists),  # type: ignore[misc]
            "raw": raw_query(stack, engine, query),
        }
        samples: dict[str, list[float]] = {way: [] for way in ways}
        began = time.perf_counter()
        for index in range(args.warmup + args.samples):
            if index > args.warmup + 10 and time.perf_counter() - began > args.max_seconds:
                break  # a slow query: enough samples for its percentiles
            for way, run in ways.items():
                start = time.perf_counter()
                run()
                if index >= args.warmup:
                    samples[way].append(time.perf_counter() - start)
        result = summary(f"case_queries.{name}", samples["amparo"], backend=backend,
                         cases=args.cases)  # fmt: skip
        raw_p50, raw_p95 = (percentile(samples["raw"], q) * 1000 for q in (0.5, 0.95))
        result.update(raw_p50_ms=round(raw_p50, 2), raw_p95_ms=round(raw_p95, 2),
                      ratio=round(raw_p50 / result["p50_ms"], 3),
                      ratio_p95=round(raw_p95 / result["p95_ms"], 3),
                      p95_under_50ms=result["p95_ms"] < 50)  # fmt: skip
        emit(result)
        if args.explain:
            explain(engine, backend, name, query)
    stack.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--histories", type=int, default=2_000)
    parser.add_argument("--caseworkers", type=int, default=200)
    parser.add_argument("--institutions", type=int, default=1, choices=range(1, 6))
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=30.0, help="per query, both ways")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--only", nargs="+", choices=list(queries()), help="these queries only")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    data = dataset(args)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        for backend in backends:
            with fresh_database(backend, Path(tmp), args.postgres_url) as engine:
                started = time.perf_counter()
                load(engine, data)
                emit({"name": "case_queries.load", "backend": backend, "cases": len(data.cases),
                      "steps": len(data.steps), "delivery_failures": len(data.failures),
                      "seconds": round(time.perf_counter() - started, 1),
                      "institution": INSTITUTIONS[0], **counts(engine)})  # fmt: skip
                check_same_answers(engine)
                measure(args, engine, backend)


if __name__ == "__main__":
    main()

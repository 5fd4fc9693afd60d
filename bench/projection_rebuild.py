"""Rebuilding the case projection from a large log, against a raw read of the same rows.

    .venv/bin/python -m bench.projection_rebuild --events 1000000 --backend both [--profile]

The log is loaded straight through the driver (executemany; COPY on PostgreSQL), untimed:
`--histories` realistic case histories (`tests.support.cases.random_cases`, decided by
the domain, cases interleaved), replicated until `--events` with fresh case ids and fresh
event ids (each copy XORs the random bits of the originals' UUIDv7 ids with a mask of its
own, so the time-ordered prefix stays); payloads and times are the originals'. Timed:
`CaseProjector().rebuild(engine)` (read, fold, write `cases`/`case_steps`, one
transaction) against `SELECT * FROM events ORDER BY position` fetched to the end with
the driver's cursor; and, between the two, the rebuild's read alone
(`store.projections.stored_events`: every event validated, no fold, no write), the
floor of any rebuild that validates what it reads. `--profile` reruns the rebuild under
cProfile and prints where the time goes (cumulative seconds of the hot spots; the
profiler itself adds overhead).

Also holds the database helpers the other benchmarks share.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.stats import emit
from domain import Event
from store.db import is_sqlite, make_engine
from store.migrate import upgrade
from store.projections import CaseProjector, stored_events
from store.schema import event_row, events
from tests.support.cases import interleaved, random_cases, uuid_from

POSTGRES_URL = os.environ.get(
    "AMPARO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COLUMNS = ("event_id", "case_id", "version", "type", "data", "actor", "occurred_at", "recorded_at")
Row = tuple[Any, ...]


@contextmanager
def fresh_database(backend: str, workdir: Path, pg_url: str = POSTGRES_URL) -> Iterator[Engine]:
    """A migrated, empty database: a new SQLite file, or a new schema (dropped afterwards)."""
    name = f"bench_{uuid4().hex[:12]}"
    url = f"sqlite:///{workdir / name}.db"
    admin = None if backend == "sqlite" else make_engine(pg_url)
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        options = {"options": f"-csearch_path={name}"}
        url = make_url(pg_url).update_query_dict(options).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
            admin.dispose()


def driver_rows(engine: Engine, stream: Sequence[Event]) -> list[Row]:
    """`stream` as the driver's parameters for COLUMNS, serialised the way the store does."""
    if not is_sqlite(engine):  # psycopg adapts UUIDs and datetimes itself
        return [_values(e) for e in stream]
    procs = [processor(engine, name) for name in COLUMNS]
    return [tuple(p(v) for p, v in zip(procs, _values(e), strict=True)) for e in stream]


def processor(engine: Engine, column: str) -> Callable[[Any], Any]:
    """How the store's column type turns a value into the driver's parameter."""
    dialect = engine.dialect
    process = events.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    if column == "data":  # `event_row` gives the payload as JSON text already
        process = None
    return process or (lambda value: value)


def _values(event: Event) -> Row:
    row = event_row(event)
    return tuple(row[name] for name in COLUMNS)


def insert_sql(engine: Engine, table: str) -> str:
    marks = ", ".join("?" if is_sqlite(engine) else "%s" for _ in COLUMNS)
    return f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})"


def bulk_load(engine: Engine, rows: Sequence[Row], chunk: int = 50_000) -> None:
    """Insert `events` rows straight through the driver (COPY on PostgreSQL)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            if is_sqlite(engine):
                cursor.executemany(insert_sql(engine, "events"), part)
            else:
                with cursor.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in part:
                        copy.write_row(row)
            raw.commit()
    finally:
        raw.close()


def raw_read(engine: Engine, page: int = 10_000) -> int:
    """Every row of `events` in position order through the driver's cursor; returns count."""
    raw = engine.raw_connection()
    try:  # a server-side cursor on PostgreSQL streams instead of buffering the whole result
        cursor = raw.cursor() if is_sqlite(engine) else raw.cursor(name="bench_read")
        cursor.execute("SELECT * FROM events ORDER BY position")
        count = 0
        while rows := cursor.fetchmany(page):
            count += len(rows)
        cursor.close()
        return count
    finally:
        raw.close()


def validated_read(engine: Engine) -> int:
    """The rebuild's own read alone: every event as an `Event`, in order, no fold, no
    writes: what any projection that trusts only validated events pays at least."""
    with engine.connect() as conn:
        return sum(1 for _ in stored_events(conn))


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def replicated(engine: Engine, base: list[Event], total: int, seed: int) -> list[Row]:
    """`total` driver rows: copies of `base` with fresh case ids and event ids."""
    rows, as_uuid = driver_rows(engine, base), processor(engine, "event_id")
    rng = random.Random(f"replicas {seed}")  # not the histories' own sequence of ids
    found: list[Row] = []
    while len(found) < total:
        mask = rng.getrandbits(62) if found else 0  # below the variant bits: ids stay UUIDv7
        cases: dict[UUID, Any] = {}
        for event, row in zip(base[: total - len(found)], rows, strict=False):
            case = cases.get(event.case_id)
            if case is None:
                case = cases[event.case_id] = as_uuid(uuid_from(rng) if mask else event.case_id)
            found.append((as_uuid(UUID(int=event.event_id.int ^ mask)), case, *row[2:]))
    return found


HOT_SPOTS = {  # (module path suffix, function): what the profile reports
    "read pages (driver rows + column processors)": ("store/driver.py", "fetch"),
    "event from its JSON (Event.model_validate_json)": ("pydantic/main.py", "model_validate_json"),
    "fold (all of it)": ("store/projections.py", "_fold_one"),
    "evolve": ("domain/state.py", "evolve"),
    "BaseModel.model_copy": ("pydantic/main.py", "model_copy"),
    "write rows (_insert_states)": ("store/projections.py", "_insert_states"),
    "case columns + state JSON (_stored_case)": ("store/projections.py", "_stored_case"),
    "step_rows": ("store/projections.py", "step_rows"),
    "copy.deepcopy (was: a fresh CaseState() per event)": ("copy.py", "deepcopy"),
}


def profile(engine: Engine, backend: str, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(CaseProjector().rebuild, engine)
    stats = pstats.Stats(profiler)
    raw: Any = stats.stats  # type: ignore[attr-defined]  # {(file, line, fn): (cc, nc, tt, ct, _)}
    total = max(ct for *_, ct, _ in raw.values())
    spots = {label: round(sum(v[3] for (f, _, fn), v in raw.items()
                              if f.endswith(path) and fn == name), 2)
             for label, (path, name) in HOT_SPOTS.items()}  # fmt: skip
    by_own = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    own = [[f"{Path(f).name}:{fn}", round(v[2], 2)] for (f, _, fn), v in by_own]
    emit({"name": "projection_rebuild.profile", "backend": backend, "total_s": round(total, 2),
          "cumulative_s": spots, "top_own_time_s": own})  # fmt: skip


def run(args: argparse.Namespace, base: list[Event], backend: str, workdir: Path) -> None:
    with fresh_database(backend, workdir, args.postgres_url) as engine:
        load = timed(lambda: bulk_load(engine, replicated(engine, base, args.events, args.seed)))
        emit({"name": "projection_rebuild.load", "backend": backend, "events": args.events,
              "seconds": round(load, 1)})  # fmt: skip
        raw = min(timed(lambda: raw_read(engine)) for _ in range(args.repeat))
        floor = min(timed(lambda: validated_read(engine)) for _ in range(args.repeat))
        rebuild = min(timed(lambda: CaseProjector().rebuild(engine)) for _ in range(args.repeat))
        variants = (("raw_read", raw), ("validated_read", floor), ("rebuild", rebuild))
        for variant, seconds in variants:
            emit({"name": "projection_rebuild", "backend": backend, "variant": variant,
                  "events": args.events, "best_of": args.repeat, "seconds": round(seconds, 2),
                  "events_per_s": round(args.events / seconds),
                  "ratio": round(raw / seconds, 3)})  # fmt: skip
        if args.profile:
            profile(engine, backend, args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--histories", type=int, default=2_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    histories = random_cases(args.seed, args.histories)
    base = [e for batch in interleaved(histories, random.Random(args.seed)) for e in batch]
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        for backend in backends:
            run(args, base, backend, Path(tmp))


if __name__ == "__main__":
    main()

"""Appending to and reading back the event store, against raw SQL on the same table.

    .venv/bin/python -m bench.event_store --events 100000 --cases 1000 --backend both

Events are real domain events, generated once per run: each case opens like
`tests.support.cases.random_case` (redrawn until still open), then gets routine work
(notes, reassignments, consent, step actions, SLA timer events) decided by
`domain.decide` until it holds its share of `--events`. A batch is `--batch` consecutive
events of one case, one transaction as a workflow step appends; batches arrive in time
order. Each series appends into an empty database of its own (the raw one: plain
`executemany` + commit of rows serialised beforehand, into the same migrated `events`
table: the practical limit). The series of one backend and batch size take turns of
`--slice` s, fair under a shared load, until all is appended or `--budget` s are used.
Reading back: `read_all` pages against the driver's cursor over rows loaded directly.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from amparo.settings import Settings
from amparo.wiring import event_store as wired_store
from bench.projection_rebuild import (
    POSTGRES_URL,
    Row,
    bulk_load,
    driver_rows,
    fresh_database,
    insert_sql,
    raw_read,
    timed,
)
from bench.stats import emit
from domain import CaseState, Event
from domain import commands as cmd
from domain.deadlines import due_now
from domain.vocabulary import (
    SYSTEM_ACTOR,
    ConsentScope,
    IdentificationOutcome,
    Step,
    StepAction,
)
from store.event_store import EventStore
from store.projections import CaseProjector
from tests.support.cases import CASEWORKERS, INSTITUTIONS, CaseHistory, random_case, uuid_from


def long_cases(seed: int, total: int, cases: int) -> list[list[Event]]:
    """`cases` streams holding `total` events between them, decided by the domain."""
    rng = random.Random(seed)
    return [long_case(rng, total // cases + (i < total % cases)) for i in range(cases)]


def long_case(rng: random.Random, size: int) -> list[Event]:
    history = random_case(rng, commands=rng.randint(0, 8))
    while not history.state.is_open:
        history = random_case(rng, commands=rng.randint(0, 8))
    now = history.state.last_recorded_at or history.state.last_event_at
    assert now is not None
    count = len(history.events)
    while count < size:
        now += timedelta(hours=rng.expovariate(1 / 30))
        for deadline in due_now(history.state, now):
            kind = cmd.RecordOverdue if deadline.kind == "overdue" else cmd.EscalateOverdue
            base = {"command_id": uuid_from(rng), "actor": SYSTEM_ACTOR, "at": now}
            count += _record(history, kind(**base, step=deadline.step))
        while not (added := _record(history, _routine(rng, history.state, now))):
            pass
        count += added
    return history.events[:size]


def _record(history: CaseHistory, command: cmd.Command) -> int:
    """How many events `command` added (0: the rules refused it)."""
    return len(history.batches[-1]) if history.record(command) else 0


def _routine(rng: random.Random, state: CaseState, now: datetime) -> cmd.Command:
    """A caseworker's everyday command; refused ones are redrawn (a note never is)."""
    base = {"command_id": uuid_from(rng), "actor": rng.choice(CASEWORKERS), "at": now}
    draw = rng.random()
    open_steps = state.open_steps()
    if draw < 0.3 and open_steps:
        step = rng.choice(open_steps).step
        action = rng.choice((StepAction.REFER, StepAction.START, StepAction.COMPLETE))
        outcome = IdentificationOutcome.CONFIRMED_VICTIM if step is Step.IDENTIFICATION else None
        institution = rng.choice(INSTITUTIONS)
        return cmd.AdvanceStep(**base, step=step, action=action, institution=institution,
                               outcome=outcome)  # fmt: skip
    if draw < 0.4 and open_steps:
        step = rng.choice(open_steps).step
        return cmd.AcknowledgeOverdue(**base, step=step, note="waiting on the institution")
    if draw < 0.5:
        scope = rng.choice(list(ConsentScope))
        kind = cmd.WithdrawConsent if state.has_consent(scope) else cmd.GiveConsent
        return kind(**base, scope=scope)
    if draw < 0.6:
        return cmd.AssignCase(**base, caseworker=rng.choice(CASEWORKERS))
    return cmd.AddNote(**base, text="spoke with the person")


def in_batches(streams: list[list[Event]], size: int) -> list[list[Event]]:
    """Each case's events in chunks of `size`, all chunks in order of arrival."""
    keyed: list[tuple[datetime, list[Event]]] = []
    for stream in streams:
        latest = stream[0].recorded_at
        for i in range(0, len(stream), size):
            # Backdated work carries an earlier time: a case's running latest keeps its order.
            latest = max(latest, stream[i].recorded_at)
            keyed.append((latest, stream[i : i + size]))
    return [chunk for _, chunk in sorted(keyed, key=lambda pair: pair[0])]


# --- databases and raw SQL ----------------------------------------------------------------


@dataclass
class Series:
    """One way of appending the batches, to its own database, in turns."""

    variant: str
    step: Callable[[int], None]
    sizes: list[int]
    done: int = 0
    appended: int = 0
    seconds: float = 0.0

    def run(self, seconds: float) -> None:
        start = time.perf_counter()
        while self.done < len(self.sizes) and time.perf_counter() - start < seconds:
            self.step(self.done)
            self.appended += self.sizes[self.done]
            self.done += 1
        self.seconds += time.perf_counter() - start

    def rate(self) -> float:
        return self.appended / self.seconds if self.seconds else 0.0


class _NoProjection(CaseProjector):
    """Events only: what the store's own insert costs, without the case projection."""

    def apply(self, conn: Any, new: Sequence[Event]) -> None:
        return None


def _store(variant: str, engine: Engine) -> EventStore:
    if variant == "events_only":
        return EventStore(engine, projector=_NoProjection())
    if variant == "store":
        return EventStore(engine)
    keys = json.dumps({"current": "kb", "keys": {"kb": secrets.token_hex(32)}})  # sealing too
    return wired_store(engine, Settings(index_key=secrets.token_hex(32), master_keys=keys))


def _raw_step(engine: Engine, batches: list[list[Row]], stack: ExitStack) -> Callable[[int], None]:
    """Plain `executemany` + commit into the `events` table of a database used for nothing else."""
    raw = engine.raw_connection()
    stack.callback(raw.close)
    cursor, sql = raw.cursor(), insert_sql(engine, "events")

    def step(index: int) -> None:
        cursor.executemany(sql, batches[index])
        raw.commit()

    return step


def append_series(args: argparse.Namespace, streams: list[list[Event]], backend: str,
                  size: int, workdir: Path) -> None:  # fmt: skip
    batches = in_batches(streams, size)
    sizes = [len(b) for b in batches]
    with ExitStack() as stack:
        engines = {v: stack.enter_context(fresh_database(backend, workdir, args.postgres_url))
                   for v in ("raw", "events_only", "store", "wired")}  # fmt: skip
        rows = driver_rows(engines["raw"], [e for b in batches for e in b])
        offsets = [0, *(sum(sizes[: i + 1]) for i in range(len(sizes)))]
        row_batches = [rows[offsets[i] : offsets[i + 1]] for i in range(len(sizes))]
        series = [Series("raw", _raw_step(engines["raw"], row_batches, stack), sizes)]
        for variant in ("events_only", "store", "wired"):
            append = _store(variant, engines[variant]).append
            series.append(Series(variant, lambda i, a=append: a(batches[i]), sizes))  # type: ignore[misc]
        while pending := [s for s in series if s.done < len(sizes) and s.seconds < args.budget]:
            for s in pending:
                s.run(min(args.slice, args.budget - s.seconds))
    base = series[0].rate()
    for s in series:
        emit({"name": "event_store.append", "backend": backend, "batch": size,
              "variant": s.variant, "events": s.appended, "seconds": round(s.seconds, 2),
              "events_per_s": round(s.rate()), "ratio": round(s.rate() / base, 3)})  # fmt: skip


def read_series(args: argparse.Namespace, streams: list[list[Event]], backend: str,
                workdir: Path) -> None:  # fmt: skip
    with fresh_database(backend, workdir, args.postgres_url) as engine:
        bulk_load(engine, driver_rows(engine, [e for b in in_batches(streams, 1) for e in b]))
        store, timings = EventStore(engine), {"read_all": list[float](), "raw": list[float]()}
        for _ in range(args.repeat):
            timings["raw"].append(timed(lambda: raw_read(engine, args.page)))
            timings["read_all"].append(timed(lambda: _read_all(store, args.page)))
    best = {k: min(v) for k, v in timings.items()}
    for variant in ("raw", "read_all"):
        rate = args.events / best[variant]
        emit({"name": "event_store.read", "backend": backend, "variant": variant,
              "page": args.page, "events": args.events, "best_of": args.repeat,
              "seconds": round(best[variant], 3), "events_per_s": round(rate),
              "ratio": round(best["raw"] / best[variant], 3)})  # fmt: skip


def _read_all(store: EventStore, page: int) -> int:
    after, count = 0, 0
    while found := store.read_all(after=after, limit=page):
        after, count = found[-1][0], count + len(found)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per append series")
    parser.add_argument("--slice", type=float, default=3.0, help="seconds per turn")
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    started = time.perf_counter()
    streams = long_cases(args.seed, args.events, args.cases)
    emit({"name": "event_store.generate", "events": args.events, "cases": args.cases,
          "seconds": round(time.perf_counter() - started, 1)})  # fmt: skip
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        for backend in backends:
            for size in args.batches:
                append_series(args, streams, backend, size, Path(tmp))
            read_series(args, streams, backend, Path(tmp))


if __name__ == "__main__":
    main()

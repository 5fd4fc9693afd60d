"""The statistical report for a half-year of a large store, against raw SQL of the same figures.

    .venv/bin/python -m bench.report_statistics --events 1000000 --backend both [--profile]

The store (untimed): `--histories` realistic case histories (`tests.support.cases.random_cases`,
decided by the domain, cases interleaved) replicated until `--events` with fresh case and
event ids, as `bench.projection_rebuild` does, except that every copy of a case is moved in
time by its own random whole number of days, so that the cases open from 2015 to early 2025
and a half-year holds about 5% of the events. Only the `occurred_at`/`recorded_at` columns
move: that is what both rebuilds fold (`identified_victims.identified_at`,
`case_steps.opened_at/updated_at`); the payloads keep their own times (the steps' `due_at`,
which no figure of the report reads). Plus about 1% of `--events` as proceeding streams
decided by `domain.proceedings` (opened at a random moment of the same years; persons
imputed; accused, then sentenced or archived, or still open), linked to some of the
cases, loaded in time order into `proceeding_events`. Both logs go in straight through the
driver (executemany; COPY on PostgreSQL), then `ProceedingStore.rebuild`,
`CaseProjector().rebuild` and `VictimStatisticsProjector().rebuild` build the projections.
PostgreSQL is then VACUUMed and ANALYZEd (autovacuum would do both after a bulk load);
SQLite is not ANALYZEd (nothing runs ANALYZE on an embedded store). The load line shows
how the events, identifications and completed steps spread over the years, and the bench
refuses to go on if the period does not hold a few percent of them.

Timed, best of `--repeat`, the two alternating: `statistics_report(engine, Period(2019-01-01,
2019-06-30, America/Santo_Domingo), variant=FULL)` against the practical floor, hand-written
SQL through the driver's cursor (`engine.raw_connection()`): the six indicators by crime
type, the victims' breakdown counts grouped by the database, and the completed steps'
(crime type, step, days) rows, with their median and 90th percentile. The baseline also
checks the report: the same six indicators, breakdowns and step counts (durations within
a tenth of a day, the databases' own date arithmetic), or it prints what differs and the
bench exits 1 after measuring. One JSON line per backend: the report's seconds, the
baseline's, `ratio` = baseline / report. `--profile` reruns the report under cProfile and
prints where the time goes. Timings are noisy on a small shared machine: compare ratios.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from bench.projection_rebuild import (
    POSTGRES_URL,
    Row,
    bulk_load,
    driver_rows,
    fresh_database,
    processor,
    timed,
)
from bench.stats import emit
from domain import Event
from domain.person import Sex
from domain.proceedings import (
    ArchiveProceeding,
    ArchiveReason,
    FileAccusation,
    HandDownSentence,
    ImputedPerson,
    ImputePersons,
    OpenInvestigation,
    ProceedingCommand,
    ProceedingEvent,
    ProceedingState,
    Verdict,
    decide_proceeding,
    evolve_proceeding_all,
)
from domain.statistics import Period, median_and_p90
from domain.vocabulary import CrimeType, Step
from reports.model import StatisticsReport, Variant
from reports.statistics import statistics_report
from store.db import is_sqlite
from store.proceedings import ProceedingStore
from store.projections import CaseProjector
from store.schema import proceeding_events
from store.victim_statistics import VictimStatisticsProjector
from tests.support.cases import EPOCH, interleaved, random_cases, uuid_from

PERIOD = Period(date(2019, 1, 1), date(2019, 6, 30), "America/Santo_Domingo")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
# The histories open from EPOCH (2024-01-01) to about April 2024: each copy of a case moves
# by a whole number of days in this range, so it opens between 2015-01-01 and about 2025-04.
SHIFT_DAYS = ((datetime(2015, 1, 1, tzinfo=UTC) - EPOCH).days, 365)
PROCEEDINGS_FROM = datetime(2015, 1, 1, tzinfo=UTC)
PROCEEDINGS_SPAN = datetime(2025, 6, 30, tzinfo=UTC) - PROCEEDINGS_FROM
PROSECUTORS = ("fiscal.perez", "fiscal.mendoza", "fiscal.rosario", "fiscal.baez")
NATIONALITIES = ("DO", "HT", "VE", "CO", "CN", None)
CRIME_OF = {"confirmed_victim": CrimeType.TRAFFICKING, "smuggled_person": CrimeType.SMUGGLING}
SHARE = (0.02, 0.10)  # what part of the identifications the half-year must hold
PROCEEDING_COLUMNS = (
    "event_id", "proceeding_id", "version", "type", "data", "actor", "occurred_at", "recorded_at",
)  # fmt: skip


# --- the store ---------------------------------------------------------------------------


def shifted_replicas(
    engine: Engine, base: list[Event], total: int, seed: int
) -> tuple[list[Row], list[UUID]]:
    """`total` driver rows for `events`: copies of `base` with fresh case and event ids,
    each copy of a case moved by its own whole number of days; and the cases' ids."""
    rows, as_uuid = driver_rows(engine, base), processor(engine, "event_id")
    as_time = processor(engine, "occurred_at")
    rng = random.Random(f"shifted replicas {seed}")
    found: list[Row] = []
    case_ids: list[UUID] = []
    replica = 0
    while len(found) < total:
        mask = rng.getrandbits(62) if replica else 0  # below the variant bits: still UUIDv7
        copies: dict[UUID, tuple[Any, timedelta]] = {}
        for event, row in zip(base[: total - len(found)], rows, strict=False):
            copy = copies.get(event.case_id)
            if copy is None:
                case_id = uuid_from(rng) if replica else event.case_id
                case_ids.append(case_id)
                shift = timedelta(days=rng.randint(*SHIFT_DAYS))
                copy = copies[event.case_id] = (as_uuid(case_id), shift)
            case, shift = copy
            event_id = as_uuid(UUID(int=event.event_id.int ^ mask))
            moved = (as_time(event.occurred_at + shift), as_time(event.recorded_at + shift))
            found.append((event_id, case, *row[2:6], *moved))
        replica += 1
    return found, case_ids


def proceeding_streams(
    rng: random.Random, total: int, case_ids: Sequence[UUID]
) -> list[ProceedingEvent]:
    """At least `total` events of proceedings decided by the domain, in time order."""
    found: list[ProceedingEvent] = []
    while len(found) < total:
        found += _one_proceeding(rng, case_ids)
    return sorted(found, key=lambda e: (e.recorded_at, e.version))


def _one_proceeding(rng: random.Random, case_ids: Sequence[UUID]) -> list[ProceedingEvent]:
    state, stream = ProceedingState(), []
    when = PROCEEDINGS_FROM + rng.uniform(0, 1) * PROCEEDINGS_SPAN

    def record(kind: type[ProceedingCommand], **fields: Any) -> None:
        nonlocal state, when
        command = kind(command_id=uuid_from(rng), actor=rng.choice(PROSECUTORS), at=when, **fields)
        decided = decide_proceeding(state, command)
        state = evolve_proceeding_all(decided, state)
        stream.extend(decided)
        when += timedelta(hours=1) + rng.expovariate(1 / 60) * DAY  # the next, months later

    victims = tuple(rng.sample(case_ids, k=min(len(case_ids), rng.choice((0, 1, 1, 2, 3)))))
    reference = f"F-{rng.randint(1, 99_999):05d}/{when.year}"
    record(OpenInvestigation, proceeding_id=uuid_from(rng), crime_type=rng.choice(list(CrimeType)),
           case_ids=victims, reference=reference)  # fmt: skip
    for _ in range(rng.choices((0, 1, 2, 3), weights=(2, 5, 2, 1))[0]):
        persons = tuple(
            ImputedPerson(sex=rng.choice(list(Sex)), nationality=rng.choice(NATIONALITIES))
            for _ in range(rng.choices((1, 2, 3, 4), weights=(6, 3, 1, 1))[0])
        )
        record(ImputePersons, persons=persons)
    fate = rng.random()
    if state.imputed and fate < 0.6:
        record(FileAccusation)
        if fate < 0.45:
            verdict = Verdict.CONDEMNATORY if rng.random() < 0.8 else Verdict.ACQUITTAL
            convicted = rng.randint(1, state.imputed) if verdict is Verdict.CONDEMNATORY else 0
            record(HandDownSentence, verdict=verdict, convicted=convicted)
        elif fate < 0.5:
            record(ArchiveProceeding, reason=ArchiveReason.DISMISSED)
    elif fate < 0.8:
        record(ArchiveProceeding, reason=rng.choice(list(ArchiveReason)))
    return stream


def proceeding_rows(engine: Engine, stream: Iterable[ProceedingEvent]) -> list[Row]:
    """`stream` as the driver's parameters for PROCEEDING_COLUMNS (the payload as JSON)."""
    dialect = engine.dialect
    procs = [
        (lambda value: value)
        if name == "data"
        else proceeding_events.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        or (lambda value: value)
        for name in PROCEEDING_COLUMNS
    ]
    values = (
        (e.event_id, e.proceeding_id, e.version, e.type, json.dumps(e.data_json()), e.actor,
         e.occurred_at, e.recorded_at)
        for e in stream
    )  # fmt: skip
    return [tuple(p(v) for p, v in zip(procs, row, strict=True)) for row in values]


def load_proceedings(engine: Engine, rows: Sequence[Row]) -> None:
    """Insert `proceeding_events` rows through the driver (COPY on PostgreSQL)."""
    columns = ", ".join(PROCEEDING_COLUMNS)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if is_sqlite(engine):
            marks = ", ".join("?" for _ in PROCEEDING_COLUMNS)
            cursor.executemany(f"INSERT INTO proceeding_events ({columns}) VALUES ({marks})", rows)
        else:
            with cursor.copy(f"COPY proceeding_events ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def build(args: argparse.Namespace, engine: Engine, base: list[Event], backend: str) -> None:
    """Load both logs and rebuild the projections; emit how long it took and the spread."""
    began = time.perf_counter()
    rows, case_ids = shifted_replicas(engine, base, args.events, args.seed)
    rng = random.Random(f"proceedings {args.seed}")
    stream = proceeding_streams(rng, max(1, args.events // 100), case_ids)
    made = time.perf_counter() - began
    started = time.perf_counter()
    bulk_load(engine, rows)
    load_proceedings(engine, proceeding_rows(engine, stream))
    load = time.perf_counter() - started
    rows.clear()  # a million tuples the rebuilds need not share memory with
    rebuilt = {
        "proceedings": timed(lambda: ProceedingStore(engine).rebuild()),
        "cases": timed(lambda: CaseProjector().rebuild(engine)),
        "identified_victims": timed(lambda: VictimStatisticsProjector().rebuild(engine)),
    }
    if not is_sqlite(engine):  # outside a transaction, as autovacuum would after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    spread = spread_of(engine)
    emit({"name": "report_statistics.load", "backend": backend, "events": args.events,
          "cases": len(case_ids), "proceeding_events": len(stream),
          "proceedings": len({e.proceeding_id for e in stream}),
          "generate_s": round(made, 1), "load_s": round(load, 1),
          "rebuild_s": {name: round(s, 1) for name, s in rebuilt.items()},
          **spread})  # fmt: skip
    share = spread["identified_in_period"] / max(1, spread["identified"])
    if not SHARE[0] <= share <= SHARE[1]:
        raise SystemExit(
            f"the period holds {share:.1%} of the identifications, not {SHARE[0]:.0%} to "
            f"{SHARE[1]:.0%}: the shifted times did not reach the projections"
        )


SPREAD_SQL = {
    "events": ("events", "occurred_at", "1 = 1"),
    "identified": ("identified_victims", "identified_at", "identified_at IS NOT NULL"),
    "steps_completed": ("case_steps", "updated_at", "state = 'completed'"),
    "imputed": ("proceeding_imputations", "imputed_at", "1 = 1"),
}


YEAR = {
    "sqlite": "substr(identified_at, 1, 4)",
    "postgresql": "extract(year FROM identified_at AT TIME ZONE 'UTC')::int",
}


def spread_of(engine: Engine) -> dict[str, Any]:
    """How many rows of each dated kind there are, in the period, and by year (identified)."""
    start, end = bounds(engine)
    year = YEAR[engine.dialect.name]
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        for name, (table, column, where) in SPREAD_SQL.items():
            sql = (f"SELECT count(*), coalesce(sum(CASE WHEN {column} >= :start AND {column} < "
                   f":end THEN 1 ELSE 0 END), 0) FROM {table} WHERE {where}")  # fmt: skip
            total, inside = conn.execute(text(sql), {"start": start, "end": end}).one()
            found[name], found[f"{name}_in_period"] = int(total), int(inside)
        by_year = conn.execute(
            text(
                f"SELECT {year}, count(*) FROM identified_victims"
                " WHERE identified_at IS NOT NULL GROUP BY 1 ORDER BY 1"
            )
        ).all()
    found["identified_by_year"] = {str(y): int(n) for y, n in by_year}
    return found


def bounds(engine: Engine) -> tuple[Any, Any]:
    """The period's instants as the driver's parameters (SQLite: the stored text)."""
    as_time = processor(engine, "occurred_at")
    return as_time(PERIOD.start.astimezone(UTC)), as_time(PERIOD.end.astimezone(UTC))


# --- the figures, both ways --------------------------------------------------------------

Indicators = dict[tuple[str, str], int]  # (crime type, indicator) -> count
Breakdowns = dict[tuple[str, str], dict[str, int]]  # (crime type, dimension) -> counts
Durations = dict[tuple[str, str], tuple[int, float | None, float | None]]  # completed, p50, p90


def figures(report: StatisticsReport) -> tuple[Indicators, Breakdowns, Durations]:
    indicators = {
        (f.crime_type.value, i.value): int(v) for f in report.figures for i, v in f.values.items()
    }
    breakdowns = {
        (b.crime_type.value, b.dimension.value): {k: int(v) for k, v in b.counts.items()}
        for b in report.breakdowns
    }
    durations = {
        (d.crime_type.value, d.step.value): (int(d.completed), d.median_days, d.p90_days)
        for d in report.step_durations
    }
    return indicators, breakdowns, durations


INVESTIGATION_ENDED = "coalesce(prosecuted_at, ended_at)"
CONDEMNED = "verdict = 'condemnatory' AND ended_at >= {start} AND ended_at < {end}"
PROCEEDINGS_SQL = f"""
SELECT crime_type,
  sum(CASE WHEN opened_at < {{end}} AND ({INVESTIGATION_ENDED} IS NULL
      OR {INVESTIGATION_ENDED} >= {{start}}) THEN 1 ELSE 0 END),
  sum(CASE WHEN prosecuted_at >= {{start}} AND prosecuted_at < {{end}} THEN 1 ELSE 0 END),
  sum(CASE WHEN {CONDEMNED} THEN 1 ELSE 0 END),
  sum(CASE WHEN {CONDEMNED} THEN convicted ELSE 0 END)
FROM proceedings GROUP BY crime_type"""
PROCEEDING_INDICATORS = (
    "cases_under_investigation", "cases_prosecuted", "condemnatory_sentences", "convicted_persons",
)  # fmt: skip
IMPUTED_SQL = """
SELECT crime_type, count(*) FROM proceeding_imputations
WHERE imputed_at >= {start} AND imputed_at < {end} GROUP BY crime_type"""
VICTIMS = "identified_at >= {start} AND identified_at < {end}"
COUNTED = f"{VICTIMS} AND outcome IN ('confirmed_victim', 'smuggled_person')"
EXPLOITATION = {
    "sqlite": "LEFT JOIN json_each(v.exploitation_types) AS e",
    "postgresql": "LEFT JOIN LATERAL jsonb_array_elements_text(v.exploitation_types) AS e(value)"
    " ON true",
}
VICTIMS_SQL = f"""
SELECT outcome, '', '', count(*) FROM identified_victims WHERE {VICTIMS} GROUP BY outcome
UNION ALL SELECT outcome, 'sex', sex, count(*) FROM identified_victims
  WHERE {COUNTED} GROUP BY outcome, sex
UNION ALL SELECT outcome, 'age_group', coalesce(age_group, 'unknown'), count(*)
  FROM identified_victims WHERE {COUNTED} GROUP BY outcome, coalesce(age_group, 'unknown')
UNION ALL SELECT outcome, 'nationality', nationality, count(*) FROM identified_victims
  WHERE {COUNTED} GROUP BY outcome, nationality
UNION ALL SELECT v.outcome, 'exploitation_type', coalesce(e.value, 'unknown'), count(*)
  FROM identified_victims AS v {{exploitation}}
  WHERE {COUNTED.replace("outcome", "v.outcome")}
  GROUP BY v.outcome, coalesce(e.value, 'unknown')"""
DAYS = {
    "sqlite": "julianday(s.updated_at) - julianday(s.opened_at)",
    "postgresql": "extract(epoch FROM s.updated_at - s.opened_at) / 86400",
}
STEPS_SQL = """
SELECT c.crime_type, s.step, {days} FROM case_steps AS s JOIN cases AS c ON c.case_id = s.case_id
WHERE s.state = 'completed' AND s.updated_at >= {start} AND s.updated_at < {end}"""


def baseline_sql(engine: Engine) -> list[str]:
    """The baseline's statements, for this database's driver and dialect."""
    dialect = engine.dialect.name
    marks = (
        {"start": ":start", "end": ":end"}
        if dialect == "sqlite"
        else {"start": "%(start)s", "end": "%(end)s"}
    )
    return [
        PROCEEDINGS_SQL.format(**marks),
        IMPUTED_SQL.format(**marks),
        VICTIMS_SQL.format(**marks, exploitation=EXPLOITATION[dialect]),
        STEPS_SQL.format(**marks, days=DAYS[dialect]),
    ]


def baseline(engine: Engine, sql: list[str]) -> tuple[Indicators, Breakdowns, Durations]:
    """The report's figures by hand-written SQL through the driver's own cursor."""
    start, end = bounds(engine)
    params = {"start": start, "end": end}
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        results = []
        for statement in sql:
            cursor.execute(statement, params)
            results.append(cursor.fetchall())
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    by_proceeding, imputed, victims, steps = results
    indicators = {(c.value, name): 0 for c in CrimeType for name in INDICATOR_NAMES}
    for crime, *values in by_proceeding:
        for name, value in zip(PROCEEDING_INDICATORS, values, strict=True):
            indicators[(crime, name)] = int(value or 0)
    for crime, count in imputed:
        indicators[(crime, "imputed_persons")] = int(count)
    breakdowns: Breakdowns = {
        (c.value, d): {} for c in CrimeType for d in DIMENSIONS
    }  # fmt: skip
    for outcome, dimension, value, count in victims:
        crime = CRIME_OF.get(outcome)
        if crime is None:
            continue
        if dimension:
            breakdowns[(crime.value, dimension)][value] = int(count)
        else:
            indicators[(crime.value, "identified_victims")] = int(count)
    days: dict[tuple[str, str], list[float]] = defaultdict(list)
    for crime, step, duration in steps:
        days[(crime, step)].append(float(duration))
    durations: Durations = {}
    for crime_type in CrimeType:
        for step_name in Step:
            key = (crime_type.value, step_name.value)
            durations[key] = (len(days[key]), *median_and_p90(days[key]))
    return indicators, breakdowns, durations


INDICATOR_NAMES = (*PROCEEDING_INDICATORS, "imputed_persons", "identified_victims")
DIMENSIONS = ("sex", "age_group", "nationality", "exploitation_type")


def differences(
    report: tuple[Indicators, Breakdowns, Durations],
    raw: tuple[Indicators, Breakdowns, Durations],
) -> list[str]:
    """What the report and the baseline disagree on (durations: within a tenth of a day)."""
    found = []
    pairs: list[tuple[str, dict[Any, Any], dict[Any, Any]]] = [
        ("indicator", report[0], raw[0]),
        ("breakdown", report[1], raw[1]),
    ]
    for what, mine, theirs in pairs:
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key) != theirs.get(key):
                found.append(f"{what} {key}: report {mine.get(key)}, raw SQL {theirs.get(key)}")
    for key in sorted(set(report[2]) | set(raw[2])):
        (count, *mine_days), (raw_count, *raw_days) = report[2][key], raw[2][key]
        near = all(
            (a is None) == (b is None) and (a is None or b is None or abs(a - b) <= 0.1 + 1e-9)
            for a, b in zip(mine_days, raw_days, strict=True)
        )
        if count != raw_count or not near:
            found.append(f"steps {key}: report {report[2][key]}, raw SQL {raw[2][key]}")
    return found


# --- measuring ---------------------------------------------------------------------------


def report_now(engine: Engine) -> StatisticsReport:
    return statistics_report(engine, PERIOD, variant=Variant.FULL, now=NOW)


def profile(engine: Engine, backend: str, top: int) -> None:
    """The report under cProfile: the time of each of its queries, and the hot spots."""
    profiler = cProfile.Profile()
    profiler.runcall(report_now, engine)
    raw: Any = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(v[3] for v in raw.values())
    parts = {fn: round(v[3], 3) for (f, _, fn), v in raw.items()
             if f.endswith("reports/statistics.py")}  # fmt: skip
    by_own = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    own = [[f"{Path(f).name}:{fn}", round(v[2], 3)] for (f, _, fn), v in by_own]
    emit({"name": "report_statistics.profile", "backend": backend, "total_s": round(total, 3),
          "cumulative_s": parts, "top_own_time_s": own})  # fmt: skip


def run(args: argparse.Namespace, base: list[Event], backend: str, workdir: Path) -> bool:
    """Build, check, measure one backend; whether the report agreed with the baseline."""
    with fresh_database(backend, workdir, args.postgres_url) as engine:
        build(args, engine, base, backend)
        sql = baseline_sql(engine)
        wrong = differences(figures(report_now(engine)), baseline(engine, sql))
        for line in wrong:
            print(f"report_statistics mismatch ({backend}): {line}", file=sys.stderr)
        samples: dict[str, list[float]] = {"report": [], "baseline": []}
        for _ in range(args.repeat):  # alternating, so both see the same noise
            samples["baseline"].append(timed(lambda: baseline(engine, sql)))
            samples["report"].append(timed(lambda: report_now(engine)))
        report_s, baseline_s = min(samples["report"]), min(samples["baseline"])
        emit({"name": "report_statistics", "backend": backend, "events": args.events,
              "period": f"{PERIOD.first}/{PERIOD.last} {PERIOD.zone}", "best_of": args.repeat,
              "seconds": round(report_s, 4), "baseline_seconds": round(baseline_s, 4),
              "ratio": round(baseline_s / report_s, 3),
              "within_2s": report_s < 2.0, "agrees": not wrong})  # fmt: skip
        if args.profile:
            profile(engine, backend, args.top)
        return not wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--histories", type=int, default=2_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    args = parser.parse_args()
    histories = random_cases(args.seed, args.histories)
    base = [e for batch in interleaved(histories, random.Random(args.seed)) for e in batch]
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    agreed = []
    with tempfile.TemporaryDirectory(prefix="amparo-bench-") as tmp:
        for backend in backends:
            agreed.append(run(args, base, backend, Path(tmp)))
    if not all(agreed):
        raise SystemExit("report_statistics: the report disagrees with the raw SQL (see above)")


if __name__ == "__main__":
    main()

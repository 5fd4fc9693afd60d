"""The workload projection (`store.workload`) on SQLite and PostgreSQL: the inline path, a
rebuild and the migration that fills it all write the same rows, and those rows are the
brute-force count over the cases' states; the workload read from them is the domain's."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Engine, select

from domain import CaseState
from store.event_store import EventStore
from store.migrate import alembic_config, upgrade
from store.projections import CaseProjector, fold
from store.schema import caseworker_deadlines, caseworker_load
from store.supervision import SupervisionReads
from tests.support.cases import EPOCH, CaseHistory, interleaved, random_cases

Rows = dict[str, list[tuple[Any, ...]]]


def workload_rows(engine: Engine) -> Rows:
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))
            ]
            for table in (caseworker_load, caseworker_deadlines)
        }


def brute_force(states: list[CaseState]) -> Rows:
    """The rows by the rules: open cases with an institution and a caseworker, their open
    steps' due dates."""
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    deadlines = []
    for state in states:
        if not (state.is_open and state.institution and state.assigned_to):
            continue
        key = (state.institution, state.assigned_to)
        cases, steps = counts.get(key, (0, 0))
        counts[key] = (cases + 1, steps + len(state.open_steps()))
        deadlines += [(state.case_id, s.step.value, *key, s.due_at) for s in state.open_steps()]
    return {
        "caseworker_load": [(*key, *value) for key, value in sorted(counts.items())],
        "caseworker_deadlines": sorted(deadlines, key=lambda r: (str(r[0]), r[1])),
    }


def appended(engine: Engine, seed: int, count: int) -> list[CaseHistory]:
    """Random histories appended one command per transaction, cases interleaved."""
    found = random_cases(seed=seed, count=count, commands=30)
    store = EventStore(engine)
    for batch in interleaved(found, random.Random(seed)):
        store.append(batch)
    return found


def in_key_order(rows: Rows) -> Rows:
    """UUIDs sort as text on SQLite and as bytes on PostgreSQL: compare in one order."""
    return {name: sorted(found, key=lambda r: tuple(map(str, r))) for name, found in rows.items()}


def test_inline_rebuild_and_migration_write_the_brute_force_rows(
    engine: Engine, database_url: str
) -> None:
    histories = appended(engine, seed=31, count=80)
    want = in_key_order(brute_force([h.state for h in histories]))
    assert want["caseworker_load"], "choose another seed"
    assert len({r[0] for r in want["caseworker_load"]}) > 1, "choose another seed"
    inline = in_key_order(workload_rows(engine))
    assert inline == want
    CaseProjector().rebuild(engine, batch_size=7)
    assert in_key_order(workload_rows(engine)) == want
    config = alembic_config(database_url)
    command.downgrade(config, "0008")  # drops the tables; the upgrade fills them from `cases`
    upgrade(database_url)
    assert in_key_order(workload_rows(engine)) == want


def test_each_transaction_leaves_the_brute_force_rows(engine: Engine) -> None:
    """Cases reassigned, closed, steps finished: the rows follow each append, and a
    caseworker left without an open case has no row (as after a rebuild)."""
    store, histories = EventStore(engine), random_cases(seed=32, count=30, commands=30)
    streams = {h.case_id: h.events for h in histories}
    states: dict[Any, CaseState] = {}
    owners: set[Any] = set()
    left = 0
    for batch in interleaved(histories, random.Random(32)):
        store.append(batch)
        case_id, version = batch[0].case_id, batch[-1].version
        states[case_id] = fold(CaseState(), [e for e in streams[case_id] if e.version <= version])
        want = in_key_order(brute_force([*states.values()]))
        assert in_key_order(workload_rows(engine)) == want
        now = {r[:2] for r in want["caseworker_load"]}
        left, owners = left + len(owners - now), now
    assert left, "no caseworker ever left: choose another seed"


def test_the_workload_is_the_domain_count(engine: Engine) -> None:
    histories = [h.state for h in appended(engine, seed=33, count=80)]
    reads = SupervisionReads(engine)
    for now in (EPOCH + timedelta(days=d) for d in (0, 20, 60, 150, 400)):
        for institution in {s.institution for s in histories if s.institution}:
            got = [
                (w.caseworker, w.open_cases, w.open_steps, w.overdue_steps, w.oldest_overdue)
                for w in reads.workload(institution, now)
            ]
            assert got == expected_workload(histories, institution, now)


def expected_workload(
    states: list[CaseState], institution: str, now: datetime
) -> list[tuple[str, int, int, int, datetime | None]]:
    found: dict[str, tuple[int, int, int, datetime | None]] = {}
    for state in states:
        if not (state.is_open and state.institution == institution and state.assigned_to):
            continue
        cases, steps, overdue, oldest = found.get(state.assigned_to, (0, 0, 0, None))
        late = [s.due_at for s in state.open_steps() if s.due_at <= now]
        oldest = min([*late, *([oldest] if oldest else [])], default=None)
        found[state.assigned_to] = (cases + 1, steps + len(state.open_steps()),
                                    overdue + len(late), oldest)  # fmt: skip
    return [(who, *row) for who, row in sorted(found.items())]

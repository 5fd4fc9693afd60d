"""The supervisor's board and workload agree with the domain's rules, case by case."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Engine

from domain.supervision import StuckReason, stuck_steps, visa_expired_since
from domain.vocabulary import Step
from store.event_store import EventStore
from store.supervision import StuckItem, SupervisionReads
from store.visas import VisaProjector
from tests.support.cases import EPOCH, random_cases
from tests.support.visas import visa_cases


def test_board_and_workload_match_a_brute_force_over_the_events(engine: Engine) -> None:
    histories = random_cases(seed=5, count=120, commands=25)
    store = EventStore(engine)
    for history in histories:
        for batch in history.batches:
            store.append(batch)
    reads = SupervisionReads(engine)
    for now in (EPOCH + timedelta(days=20), EPOCH + timedelta(days=90)):
        by_institution: dict[str, set[tuple[object, ...]]] = defaultdict(set)
        load: dict[tuple[str, str], list[int]] = {}
        for history in histories:
            state = history.state
            if state.institution is None:
                continue
            for s in stuck_steps(state, now):
                by_institution[state.institution].add((state.case_id, s.step, s.reason, s.since))
            if state.is_open and state.assigned_to:
                open_steps = state.open_steps()
                counts = load.setdefault((state.institution, state.assigned_to), [0, 0, 0])
                counts[0] += 1
                counts[1] += len(open_steps)
                counts[2] += sum(1 for s in open_steps if s.due_at <= now)
        for institution, expected in by_institution.items():
            board: list[StuckItem] = []
            cursor: str | None = None
            while True:
                page = reads.stuck(institution, now, limit=37, cursor=cursor)
                board += page.items
                cursor = page.next_cursor
                if cursor is None:
                    break
            got = {(i.case_id, i.step, i.reason, i.since) for i in board}
            assert got == expected
            assert len(board) == len(got)  # no duplicates across pages
            assert [i.since for i in board] == sorted(i.since for i in board)
        for (institution, caseworker), (cases_, steps, overdue) in load.items():
            row = next(w for w in reads.workload(institution, now) if w.caseworker == caseworker)
            assert (row.open_cases, row.open_steps, row.overdue_steps) == (cases_, steps, overdue)


def test_filters_narrow_the_board(engine: Engine) -> None:
    histories = random_cases(seed=9, count=120, commands=20)
    store = EventStore(engine)
    for history in histories:
        for batch in history.batches:
            store.append(batch)
    reads = SupervisionReads(engine)
    now = EPOCH + timedelta(days=60)
    institution = random.Random(1).choice(
        [h.state.institution for h in histories if h.state.institution]
    )
    everything = reads.stuck(institution, now, limit=200).items
    for item in everything:
        only = reads.stuck(institution, now, step=item.step, reason=item.reason, limit=200).items
        assert item in only
        assert all(i.step == item.step and i.reason == item.reason for i in only)


def test_visa_expired_cases_are_on_the_board_open_or_closed(engine: Engine) -> None:
    histories = visa_cases(seed=41, count=60)
    store = EventStore(engine, also=[VisaProjector()])
    for history in histories:
        for batch in history.batches:
            store.append(batch)
    reads = SupervisionReads(engine)
    now = max(h.state.last_event_at for h in histories if h.state.last_event_at)
    expected: dict[str, set[tuple[UUID, datetime, str | None]]] = defaultdict(set)
    for history in histories:
        state = history.state
        since = visa_expired_since(state, now)  # the domain's rule, checked against the SQL
        if state.institution and since is not None:
            expected[state.institution].add((history.case_id, since, state.assigned_to))
    closed = {h.case_id for h in histories if not h.state.is_open}
    assert closed & {c for rows in expected.values() for c, _, _ in rows}, "choose another seed"
    for institution, rows in expected.items():
        board: list[StuckItem] = []
        cursor: str | None = None
        while True:
            page = reads.stuck(
                institution, now, reason=StuckReason.VISA_EXPIRED, limit=2, cursor=cursor
            )
            board += page.items
            if (cursor := page.next_cursor) is None:
                break
        assert {(i.case_id, i.since, i.assigned_to) for i in board} == rows
        assert all(i.step is None and i.due_at is None for i in board)
        assert [i.since for i in board] == sorted(i.since for i in board)
        everything = reads.stuck(institution, now, limit=200).items
        assert {i.case_id for i in everything if i.reason is StuckReason.VISA_EXPIRED} == {
            c for c, _, _ in rows
        }
        assert not any(
            i.reason is StuckReason.VISA_EXPIRED
            for i in reads.stuck(institution, now, step=Step.LEGAL, limit=200).items
        )
        caseworker = next(iter(rows))[2]
        mine = reads.stuck(
            institution, now, reason=StuckReason.VISA_EXPIRED, caseworker=caseworker, limit=200
        ).items
        assert {i.case_id for i in mine} == {c for c, _, who in rows if who == caseworker}
    # Before any visa lapsed, none is on the board.
    first = min(since for rows in expected.values() for _, since, _ in rows)
    for institution in expected:
        early = reads.stuck(institution, first - timedelta(seconds=1), limit=200).items
        assert not any(i.reason is StuckReason.VISA_EXPIRED for i in early)

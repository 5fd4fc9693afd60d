"""Each way the board is read (filters, pages, failing deliveries) and the whole workload,
against the domain's rules case by case: each filter takes its own query path."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from itertools import product

from sqlalchemy import Engine

from domain.state import CaseState
from domain.supervision import StuckReason, stuck_steps
from domain.vocabulary import Step
from store.deliveries import DeliveryHealth
from store.event_store import EventStore
from store.supervision import SupervisionReads
from tests.support.cases import EPOCH, random_cases

Row = tuple[uuid.UUID, str, str, datetime]  # case, step ("" for none), reason, since


def load_histories(engine: Engine) -> list[CaseState]:
    found = random_cases(seed=23, count=150, commands=25)
    store = EventStore(engine)
    for history in found:
        for batch in history.batches:
            store.append(batch)
    return [h.state for h in found]


def failures(engine: Engine, states: list[CaseState]) -> dict[uuid.UUID, datetime]:
    """A failing delivery for one case in four (closed ones too: the board ignores them)."""
    health, rng, since = DeliveryHealth(engine), random.Random(3), {}
    for state in states[::4]:
        assert state.case_id is not None
        at = EPOCH + timedelta(days=rng.uniform(0, 50))
        health.failing(uuid.UUID(int=rng.getrandbits(128)), case_id=state.case_id,
                       kind="email", at=at, attempts=3, error="451")  # fmt: skip
        since[state.case_id] = at
    return since


def expected(states: list[CaseState], failing: dict[uuid.UUID, datetime], now: datetime,
             institution: str) -> list[tuple[Row, str | None]]:  # fmt: skip
    """The board by the domain's rules, in its order, with each row's caseworker."""
    rows = []
    for state in states:
        if state.institution != institution or not state.is_open:
            continue
        assert state.case_id is not None
        rows += [((state.case_id, s.step.value, s.reason.value, s.since), state.assigned_to)
                 for s in stuck_steps(state, now)]  # fmt: skip
        if state.case_id in failing:
            row = (state.case_id, "", StuckReason.DELIVERY_FAILING.value, failing[state.case_id])
            rows.append((row, state.assigned_to))
    return sorted(rows, key=lambda r: (r[0][3], str(r[0][0]), r[0][1], r[0][2]))


def board(
    reads: SupervisionReads, institution: str, now: datetime, *,
    reason: StuckReason | None = None, step: Step | None = None, caseworker: str | None = None,
) -> list[Row]:  # fmt: skip
    """Every page of the board, five rows at a time."""
    found: list[Row] = []
    cursor: str | None = None
    while True:
        page = reads.stuck(institution, now, reason=reason, step=step, caseworker=caseworker,
                           limit=5, cursor=cursor)  # fmt: skip
        found += [(i.case_id, i.step.value if i.step else "", i.reason.value, i.since)
                  for i in page.items]  # fmt: skip
        if (cursor := page.next_cursor) is None:
            return found


def test_every_path_of_the_board_and_the_workload_match_the_domain(engine: Engine) -> None:
    histories = load_histories(engine)
    check_board(engine, histories)
    check_workload(engine, histories)


def check_board(engine: Engine, histories: list[CaseState]) -> None:
    """Each filter pages through exactly the domain's board."""
    failing = failures(engine, histories)
    reads, seen = SupervisionReads(engine), set[str]()
    for now, institution in product((EPOCH + timedelta(days=60), EPOCH + timedelta(days=150)),
                                    ("CEM Lima", "MINSA")):  # fmt: skip
        rows = expected(histories, failing, now, institution)
        seen |= {r[2] for r, _ in rows}
        assert board(reads, institution, now) == [r for r, _ in rows]
        for reason in (StuckReason.OVERDUE, StuckReason.STALE, StuckReason.DELIVERY_FAILING):
            want = [r for r, _ in rows if r[2] == reason.value]
            assert board(reads, institution, now, reason=reason) == want
        for step in (Step.SHELTER, Step.LEGAL):
            want = [r for r, _ in rows if r[1] == step.value]
            assert board(reads, institution, now, step=step) == want
        for caseworker in sorted({who for _, who in rows if who})[:2]:
            want = [r for r, who in rows if who == caseworker]
            assert board(reads, institution, now, caseworker=caseworker) == want
            both = [r for r in want if r[1] == Step.SHELTER.value]
            assert board(reads, institution, now, caseworker=caseworker, step=Step.SHELTER) == both
    assert seen == {"overdue", "stale", "delivery_failing"}, "choose another seed"


def check_workload(engine: Engine, histories: list[CaseState]) -> None:
    """Every field of every caseworker's row."""
    reads = SupervisionReads(engine)
    for now in (EPOCH + timedelta(days=60), EPOCH + timedelta(days=150)):
        want: dict[tuple[str, str], tuple[int, int, int, datetime | None]] = {}
        for state in histories:
            if not (state.is_open and state.institution and state.assigned_to):
                continue
            key = (state.institution, state.assigned_to)
            cases_, steps, overdue, oldest = want.get(key, (0, 0, 0, None))
            late = [s.due_at for s in state.open_steps() if s.due_at <= now]
            oldest = min([*late, *([oldest] if oldest else [])], default=None)
            want[key] = (cases_ + 1, steps + len(state.open_steps()), overdue + len(late), oldest)
        for institution in {i for i, _ in want}:
            got = {
                (institution, w.caseworker): (w.open_cases, w.open_steps, w.overdue_steps,
                                              w.oldest_overdue)
                for w in reads.workload(institution, now)
            }  # fmt: skip
            assert got == {k: v for k, v in want.items() if k[0] == institution}

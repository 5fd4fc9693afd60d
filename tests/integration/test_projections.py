"""The case projection and its read side, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import Engine

from domain import CaseState
from domain.vocabulary import CaseStatus, CrimeType, Step
from store.event_store import EventStore
from store.projections import CaseProjector
from store.read_models import CaseReads, CaseSummary, InvalidCursor
from tests.support.cases import EPOCH, CaseHistory, interleaved, random_case
from tests.support.tables import projection_rows


def histories(seed: int = 21, count: int = 50) -> list[CaseHistory]:
    """Random cases, a few of them recorded with clocks at a UTC offset."""
    rng = random.Random(seed)
    madrid = EPOCH.astimezone(timezone(timedelta(hours=2)))
    return [random_case(rng, start=madrid if i % 10 == 0 else EPOCH) for i in range(count)]


def store_all(store: EventStore, found: list[CaseHistory]) -> None:
    """Every event, a few cases per transaction (fast, and exercises multi-case batches)."""
    for start in range(0, len(found), 5):
        store.append([e for h in found[start : start + 5] for e in h.events])


def expected_order(found: list[CaseHistory]) -> list[CaseState]:
    states = [h.state for h in found]
    return sorted(states, key=lambda s: (-s.opened_at.timestamp(), s.case_id))  # type: ignore[union-attr]


FILTERS: list[tuple[str, object]] = [
    ("status", CaseStatus.OPEN),
    ("status", CaseStatus.CLOSED),
    ("overdue", True),
    ("overdue", False),
    ("assigned_to", "ana.rojas"),
    ("crime_type", CrimeType.SMUGGLING),
    ("step", Step.IDENTIFICATION),
    ("step", Step.LEGAL),
]


class TestCaseProjection:
    def test_rebuild_gives_exactly_the_rows_of_the_inline_path(
        self, event_store: EventStore, engine: Engine
    ) -> None:
        found = histories()
        for batch in interleaved(found, random.Random(21)):  # one transaction per command
            event_store.append(batch)
        inline = projection_rows(engine)
        seen: list[int] = []
        count = CaseProjector().rebuild(engine, batch_size=97, progress=seen.append)
        assert count == sum(len(h.events) for h in found)
        assert seen[-1] == count
        assert seen == sorted(seen)
        assert projection_rows(engine) == inline
        assert len(inline["cases"]) == len(found)

    def test_the_stored_state_is_the_fold_of_the_stream(
        self, event_store: EventStore, engine: Engine
    ) -> None:
        found = histories(22, 20)
        store_all(event_store, found)
        rows = {row["case_id"]: row for row in projection_rows(engine)["cases"]}
        for h in found:
            assert CaseState.model_validate(rows[h.case_id]["state"]) == h.state

    def test_rebuild_of_an_empty_store(self, engine: Engine) -> None:
        assert CaseProjector().rebuild(engine) == 0
        assert projection_rows(engine) == {"cases": [], "case_steps": []}


class TestCaseReads:
    def test_get_returns_the_case_with_its_steps_in_path_order(
        self, event_store: EventStore, engine: Engine
    ) -> None:
        found = histories(23, 10)
        store_all(event_store, found)
        reads = CaseReads(engine)
        for h in found:
            summary = reads.get(h.case_id)
            assert summary is not None
            assert_summarises(summary, h.state)
            assert reads.events(h.case_id) == h.events
        assert reads.get(uuid4()) is None

    def test_overdue_case_on_the_board(self, event_store: EventStore, engine: Engine) -> None:
        rng = random.Random(24)
        case = next(h for h in iter(lambda: random_case(rng), None) if _ever_overdue(h))
        event_store.append(case.events)
        summary = CaseReads(engine).get(case.case_id)
        assert summary is not None
        open_steps = case.state.open_steps() if case.state.is_open else []
        assert summary.overdue == any(s.overdue for s in open_steps)
        assert summary.next_due_at == min((s.due_at for s in open_steps), default=None)
        assert any(step.overdue for step in summary.steps)

    def test_list_filters(self, event_store: EventStore, engine: Engine) -> None:
        found = histories(25, 40)
        store_all(event_store, found)
        reads = CaseReads(engine)
        for name, value in FILTERS:
            page = reads.list(**{name: value}, limit=100)  # type: ignore[arg-type]
            expected = [s.case_id for s in expected_order(found) if _matches(s, name, value)]
            assert expected, f"no case for {name}={value}: choose another seed"
            assert [item.case_id for item in page.items] == expected, f"{name}={value}"
            assert page.next_cursor is None

    def test_pages_neither_repeat_nor_miss_a_case(
        self, event_store: EventStore, engine: Engine
    ) -> None:
        found = histories(26, 50)
        store_all(event_store, found)
        reads = CaseReads(engine)
        seen, cursor, pages = [], None, 0
        while True:
            page = reads.list(limit=7, cursor=cursor)
            seen += [item.case_id for item in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [s.case_id for s in expected_order(found)]
        assert pages == 8
        filtered = reads.list(status=CaseStatus.OPEN, limit=3)
        rest = reads.list(status=CaseStatus.OPEN, limit=100, cursor=filtered.next_cursor)
        everything = reads.list(status=CaseStatus.OPEN, limit=100)
        assert filtered.items + rest.items == everything.items

    def test_a_foreign_cursor_is_refused(self, engine: Engine) -> None:
        with pytest.raises(InvalidCursor):
            CaseReads(engine).list(cursor="not-a-cursor")


def assert_summarises(summary: CaseSummary, state: CaseState) -> None:
    assert summary.case_id == state.case_id
    assert summary.version == state.version
    assert summary.status is state.status
    assert summary.assigned_to == state.assigned_to
    assert summary.opened_at == state.opened_at
    assert summary.open_steps == len(state.open_steps())
    assert [s.step for s in summary.steps] == [s for s in Step if s in state.steps]
    for step in summary.steps:
        status = state.steps[step.step]
        assert (step.state, step.due_at, step.overdue) == (
            status.state,
            status.due_at,
            status.overdue,
        )


def _ever_overdue(h: CaseHistory) -> bool:
    return h.state.is_open and any(s.overdue for s in h.state.open_steps())


def _matches(state: CaseState, name: str, value: object) -> bool:
    if name == "step":
        status = state.steps.get(value)  # type: ignore[call-overload]
        return status is not None and not status.final
    if name == "overdue":
        # A closed case is never overdue, even with steps left unfinished (lost contact…).
        return (state.is_open and any(s.overdue for s in state.open_steps())) == value
    return bool(getattr(state, name) == value)

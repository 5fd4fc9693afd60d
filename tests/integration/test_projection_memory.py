"""The case projector's memory of the states it wrote never makes it differ from the fold."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import Connection, Engine, delete

from domain import CaseState, Event
from domain.events import ConsentGiven, EventData, NoteAdded
from domain.vocabulary import ConsentScope
from store.event_store import EventStore
from store.projections import CaseProjector
from store.schema import events
from tests.support.cases import CaseHistory, interleaved, random_case
from tests.support.tables import projection_rows


def histories(seed: int, count: int) -> list[CaseHistory]:
    rng = random.Random(seed)
    return [random_case(rng) for _ in range(count)]


def rebuilt(engine: Engine) -> dict[str, list[dict[str, object]]]:
    CaseProjector().rebuild(engine)
    return projection_rows(engine)


class Refusing:
    """An inline projection that fails the append once its turn comes."""

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        raise RuntimeError("refused")


class TestProjectorMemory:
    @pytest.mark.parametrize("recent", [0, 1, 4096])
    def test_rows_are_the_fold_with_or_without_memory(self, engine: Engine, recent: int) -> None:
        found = histories(31, 12)
        store = EventStore(engine, CaseProjector(recent=recent))
        for batch in interleaved(found, random.Random(31)):
            store.append(batch)
        inline = projection_rows(engine)
        assert inline == rebuilt(engine)

    def test_appends_from_another_store_are_folded_from_the_row(self, engine: Engine) -> None:
        first, second = EventStore(engine), EventStore(engine)
        for index, batch in enumerate(interleaved(histories(32, 8), random.Random(32))):
            (first if index % 3 else second).append(batch)
        inline = projection_rows(engine)
        assert inline == rebuilt(engine)

    def test_a_rolled_back_append_leaves_nothing_in_memory(self, engine: Engine) -> None:
        case = random_case(random.Random(33), commands=0)
        first = EventStore(engine)
        first.append(case.events)
        refused = EventStore(engine, first._cases, also=[Refusing()])
        with pytest.raises(RuntimeError, match="refused"):
            refused.append([after(case, 1, ConsentGiven(scope=ConsentScope.DATA_SHARING))])
        # Another process takes that version with a different event; were the refused
        # append's state remembered, the next append would fold on from it.
        EventStore(engine).append([after(case, 1, NoteAdded(text="called"))])
        first.append([after(case, 2, NoteAdded(text="called again"))])
        rows = projection_rows(engine)
        assert rows == rebuilt(engine)
        state = CaseState.model_validate(rows["cases"][0]["state"])
        assert (state.notes, state.consent.data_sharing) == (case.state.notes + 2, False)

    def test_a_row_behind_the_memory_is_folded_from_the_row(self, engine: Engine) -> None:
        case = random_case(random.Random(35), commands=0)
        store = EventStore(engine)
        store.append(case.events)
        store.append([after(case, 1, ConsentGiven(scope=ConsentScope.DATA_SHARING))])
        # The database goes back to before that append (restored from a backup, say).
        with engine.begin() as conn:
            conn.execute(delete(events).where(events.c.version > case.state.version))
        CaseProjector().rebuild(engine)
        store.append([after(case, n, NoteAdded(text=f"note {n}")) for n in (1, 2)])
        rows = projection_rows(engine)
        assert rows == rebuilt(engine)
        state = CaseState.model_validate(rows["cases"][0]["state"])
        assert (state.notes, state.consent.data_sharing) == (case.state.notes + 2, False)


def after(case: CaseHistory, nth: int, data: EventData) -> Event:
    """The `nth` event after the case's own."""
    at = case.state.last_event_at
    assert at is not None
    return Event(
        event_id=uuid4(),
        case_id=case.case_id,
        version=case.state.version + nth,
        occurred_at=at + timedelta(hours=nth),
        recorded_at=at + timedelta(hours=nth),
        actor="ana.rojas",
        data=data,
    )

"""The event store's contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import StatementError

from domain import Event
from store.db import is_sqlite
from store.event_store import EventStore, StoreError, VersionConflict
from store.projections import CaseProjector
from store.schema import events
from tests.support.cases import CaseHistory, interleaved, random_case, random_cases
from tests.support.tables import projection_rows


def with_data(event: Event, **changes: object) -> Event:
    """`event` with its payload changed: a different decision at the same place."""
    return event.model_copy(update={"data": event.data.model_copy(update=changes)})


def history(seed: int, commands: int = 15) -> CaseHistory:
    return random_case(random.Random(seed), commands=commands)


class TestEventStore:
    def test_appends_a_stream_and_reads_it_back(self, event_store: EventStore) -> None:
        case = history(1)
        for batch in case.batches:
            assert event_store.append(batch) == len(batch)
        assert event_store.read_stream(case.case_id) == case.events
        assert event_store.read_stream(history(2).case_id) == []

    def test_read_all_pages_in_position_order(self, event_store: EventStore) -> None:
        stored = [e for h in random_cases(3, 5) for e in h.events]
        event_store.append(stored)
        pages, after = [], 0
        while page := event_store.read_all(after=after, limit=7):
            pages.append(page)
            after = page[-1][0]
        assert [e for page in pages for _, e in page] == stored
        assert all(len(page) <= 7 for page in pages)
        assert event_store.last_position() == after
        assert event_store.read_all(after=after) == []

    def test_empty_store_and_empty_batch(self, event_store: EventStore) -> None:
        assert event_store.append([]) == 0
        assert event_store.last_position() == 0
        assert event_store.read_all() == []

    def test_one_event_id_with_two_contents_in_a_batch_is_refused(
        self, event_store: EventStore
    ) -> None:
        first = history(10).events[0]
        with pytest.raises(StoreError, match="twice"):
            event_store.append([first, with_data(first, location="Tumbes")])
        assert event_store.read_all() == []

    def test_reappending_stored_events_is_a_no_op(
        self, event_store: EventStore, engine: Engine
    ) -> None:
        case = history(4)
        for batch in case.batches:
            event_store.append(batch)
        before, position = projection_rows(engine), event_store.last_position()
        for batch in case.batches:
            assert event_store.append(batch) == 0
        assert event_store.append(case.events) == 0
        assert projection_rows(engine) == before
        assert event_store.last_position() == position

    def test_a_partly_stored_batch_stores_the_rest(self, event_store: EventStore) -> None:
        case = history(5)
        half = len(case.events) // 2
        event_store.append(case.events[:half])
        assert event_store.append(case.events) == len(case.events) - half
        assert event_store.read_stream(case.case_id) == case.events

    def test_a_different_event_at_a_taken_version_is_refused(
        self, event_store: EventStore, engine: Engine
    ) -> None:
        case, other = history(6), history(7)
        event_store.append(case.batches[0])
        before, position = projection_rows(engine), event_store.last_position()
        clash = with_data(case.events[0]).model_copy(update={"event_id": uuid4()})
        with pytest.raises(VersionConflict, match=f"case {case.case_id}, version 1"):
            event_store.append([*other.batches[0], clash])
        assert event_store.last_position() == position
        assert event_store.read_stream(other.case_id) == []
        assert projection_rows(engine) == before

    def test_a_version_that_skips_ahead_is_refused(self, event_store: EventStore) -> None:
        case = history(8)
        event_store.append(case.batches[0])
        later = case.events[len(case.batches[0]) + 1 :]
        with pytest.raises(VersionConflict, match="the stream is at version"):
            event_store.append(later)
        assert event_store.read_stream(case.case_id) == case.batches[0]

    def test_one_version_twice_in_a_batch_is_refused(self, event_store: EventStore) -> None:
        first = history(9).events[0]
        twin = first.model_copy(update={"event_id": uuid4()})
        with pytest.raises(VersionConflict, match="two events of the batch"):
            event_store.append([first, twin])
        assert event_store.last_position() == 0

    def test_a_batch_of_several_cases_keeps_each_case_in_order(
        self, event_store: EventStore
    ) -> None:
        histories = random_cases(11, 4)
        batch = [e for h in histories for e in h.events]
        random.Random(11).shuffle(batch)
        assert event_store.append(batch) == len(batch)
        for h in histories:
            assert event_store.read_stream(h.case_id) == h.events
        assert_positions_follow_versions(event_store)

    def test_positions_increase_and_versions_are_contiguous(self, event_store: EventStore) -> None:
        histories = random_cases(12, 10)
        for batch in interleaved(histories, random.Random(12)):
            event_store.append(batch)
        assert len(event_store.read_all()) == sum(len(h.events) for h in histories)
        assert_positions_follow_versions(event_store)

    def test_concurrent_appends_to_different_cases_all_land(self, event_store: EventStore) -> None:
        histories = random_cases(13, 16, commands=8)
        failures: list[BaseException] = []

        def write(mine: list[CaseHistory]) -> None:
            try:
                for h in mine:
                    for batch in h.batches:
                        event_store.append(batch)
            except BaseException as error:  # reported by the main thread
                failures.append(error)

        threads = [threading.Thread(target=write, args=(histories[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        for h in histories:
            assert event_store.read_stream(h.case_id) == h.events
        assert_positions_follow_versions(event_store)

    def test_racing_retries_store_each_event_once(self, event_store: EventStore) -> None:
        case = history(17)
        appended: list[int] = []

        def retry() -> None:
            appended.extend(event_store.append(batch) for batch in case.batches)

        threads = [threading.Thread(target=retry) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(appended) == len(case.events)
        assert event_store.read_stream(case.case_id) == case.events

    def test_appends_serialise_where_the_database_needs_it(self, engine: Engine) -> None:
        """PostgreSQL: the table lock makes insert order commit order. SQLite: its single
        writer already does, and the append's transaction holds the write lock."""
        spy = LockSpy()
        EventStore(engine, projector=spy).append(history(16).batches[0])
        if is_sqlite(engine):
            assert spy.modes == ["in_transaction"]
        else:
            assert "ExclusiveLock" in spy.modes

    def test_times_are_stored_in_utc(self, event_store: EventStore) -> None:
        lima = timezone(timedelta(hours=-5))
        case = random_case(random.Random(14), start=datetime(2024, 5, 1, tzinfo=lima))
        event_store.append(case.events)
        stored = event_store.read_stream(case.case_id)
        assert stored == case.events
        assert {e.occurred_at.utcoffset() for e in stored} == {timedelta(0)}

    def test_naive_times_are_refused(self, engine: Engine) -> None:
        event = history(15).events[0]
        row = {**event.model_dump(exclude={"data"}), "type": event.type, "data": {}}
        with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
            conn.execute(insert(events), {**row, "occurred_at": datetime(2024, 1, 1)})


class LockSpy(CaseProjector):
    """Notes the locks the append's transaction holds on `events` when it projects."""

    modes: list[str]

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        if is_sqlite(conn):
            raw = conn.connection.driver_connection
            self.modes = ["in_transaction"] if getattr(raw, "in_transaction", False) else []
        else:
            self.modes = list(conn.execute(EVENTS_LOCKS).scalars())
        super().apply(conn, new)


EVENTS_LOCKS = text(
    "SELECT mode FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation"
    " WHERE pg_class.relname = 'events' AND pg_locks.pid = pg_backend_pid()"
)


def assert_positions_follow_versions(store: EventStore) -> None:
    """Positions strictly increase; each case's versions run 1, 2, … in position order."""
    stored = store.read_all()
    positions = [position for position, _ in stored]
    assert positions == sorted(set(positions))
    versions: dict[object, list[int]] = defaultdict(list)
    for _, event in stored:
        versions[event.case_id].append(event.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())

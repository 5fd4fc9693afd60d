"""The proceedings' streams and projection, and recording commands on them: SQLite and
PostgreSQL."""

from __future__ import annotations

import contextlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Engine, select

from amparo.cases import CommandRefused
from amparo.proceedings import ProceedingCommands
from domain.person import Sex
from domain.proceedings import (
    ArchiveProceeding,
    ArchiveReason,
    FileAccusation,
    HandDownSentence,
    ImputedPerson,
    ImputePersons,
    LinkVictims,
    OpenInvestigation,
    ProceedingCommand,
    ProceedingStage,
    Verdict,
    decide_proceeding,
)
from domain.vocabulary import CrimeType
from store.event_store import EventStore
from store.proceedings import (
    InvalidCursor,
    ProceedingStore,
    ProceedingSummary,
    VersionConflict,
    rebuild,
)
from store.schema import proceeding_events, proceeding_imputations, proceeding_victims, proceedings
from tests.support.cases import random_cases

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
TABLES = (proceedings, proceeding_victims, proceeding_imputations)


@pytest.fixture
def store(engine: Engine) -> ProceedingStore:
    return ProceedingStore(engine)


@pytest.fixture
def commands(store: ProceedingStore) -> ProceedingCommands:
    return ProceedingCommands(store)


def envelope(at: datetime, **fields: Any) -> dict[str, Any]:
    return {"command_id": uuid4(), "actor": "fiscal", "at": at, **fields}


def opening(proceeding_id: UUID, at: datetime = T0, **fields: Any) -> OpenInvestigation:
    return OpenInvestigation(
        **envelope(at, proceeding_id=proceeding_id, crime_type=CrimeType.TRAFFICKING, **fields)
    )


def impute(at: datetime, *persons: ImputedPerson) -> ImputePersons:
    return ImputePersons(**envelope(at), persons=persons or (ImputedPerson(sex=Sex.MALE),))


def tables(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every projection row, in a stable order."""
    with engine.connect() as conn:
        return {
            table.name: [
                dict(row)
                for row in conn.execute(select(table).order_by(*table.primary_key)).mappings()
            ]
            for table in TABLES
        }


def stored_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(proceeding_events.c.event_id)).all())


class TestAppend:
    def test_events_read_back_as_appended_and_project_inline(
        self, store: ProceedingStore, commands: ProceedingCommands, engine: Engine
    ) -> None:
        pid, case = uuid4(), uuid4()
        commands.record(pid, opening(pid, case_ids=(case,), reference="PETT-1"))
        man, woman = ImputedPerson(sex=Sex.MALE, nationality="DO"), ImputedPerson(sex=Sex.FEMALE)
        commands.record(pid, impute(T0 + HOUR, man, woman))
        state = commands.record(pid, FileAccusation(**envelope(T0 + 2 * HOUR)))
        assert store.state(pid) == state
        assert [e.version for e in store.read_stream(pid)] == [1, 2, 3]
        rows = tables(engine)
        [row] = rows["proceedings"]
        assert row["stage"] == "prosecution" and row["victims"] == 1 and row["imputed"] == 2
        assert row["reference"] == "PETT-1" and row["prosecuted_at"] == T0 + 2 * HOUR
        assert rows["proceeding_victims"] == [{"proceeding_id": pid, "case_id": case}]
        assert rows["proceeding_imputations"] == [
            {"proceeding_id": pid, "seq": 1, "crime_type": "trafficking",
             "imputed_at": T0 + HOUR, "sex": "male", "nationality": "DO"},
            {"proceeding_id": pid, "seq": 2, "crime_type": "trafficking",
             "imputed_at": T0 + HOUR, "sex": "female", "nationality": None},
        ]  # fmt: skip
        summary = store.get(pid)
        assert summary is not None and summary.stage is ProceedingStage.PROSECUTION
        assert store.victims([pid]) == {pid: [case]}
        assert store.get(uuid4()) is None and store.state(uuid4()).stage is None

    def test_a_taken_version_is_a_conflict_and_stores_nothing(
        self, store: ProceedingStore, engine: Engine
    ) -> None:
        pid = uuid4()
        [opened] = decide_proceeding(store.state(pid), opening(pid))
        store.append([opened])
        state = store.state(pid)
        [first] = decide_proceeding(state, impute(T0 + HOUR))
        [second] = decide_proceeding(state, ArchiveProceeding(
            **envelope(T0 + HOUR), reason=ArchiveReason.NO_CRIME
        ))  # fmt: skip
        assert store.append([first]) == 1
        before = tables(engine)
        with pytest.raises(VersionConflict) as raised:
            store.append([second])
        assert raised.value.version == 2
        assert tables(engine) == before and stored_events(engine) == 2
        # A version that skips ahead is refused too.
        skipping = second.model_copy(update={"version": 4})
        with pytest.raises(VersionConflict):
            store.append([skipping])
        with pytest.raises(VersionConflict):  # two events for one version in one batch
            store.append([second.model_copy(update={"version": 3}), first.model_copy(
                update={"event_id": uuid4(), "version": 3}
            )])  # fmt: skip
        assert tables(engine) == before and stored_events(engine) == 2

    def test_appending_a_stored_event_again_changes_nothing(
        self, store: ProceedingStore, engine: Engine
    ) -> None:
        pid = uuid4()
        events = decide_proceeding(store.state(pid), opening(pid, case_ids=(uuid4(),)))
        assert store.append(events) == 1
        before = tables(engine)
        assert store.append(events) == 0 and store.append([]) == 0
        assert tables(engine) == before and stored_events(engine) == 1


class TestRecord:
    def test_a_command_sent_again_is_applied_once(
        self, store: ProceedingStore, commands: ProceedingCommands, engine: Engine
    ) -> None:
        pid = uuid4()
        opened = opening(pid)
        commands.record(pid, opened)
        assert commands.record(pid, opened).version == 1  # not proceeding_already_open
        twice = impute(T0 + HOUR)
        assert commands.record(pid, twice).imputed == 1
        commands.record(pid, impute(T0 + 2 * HOUR))
        # Sent again later, after another command: the same answer as the current state.
        later = twice.model_copy(update={"at": T0 + 3 * HOUR})
        assert commands.record(pid, later).imputed == 2
        assert stored_events(engine) == 3
        assert tables(engine)["proceedings"][0]["imputed"] == 2

    def test_refusals_carry_the_domain_code(self, commands: ProceedingCommands) -> None:
        pid = uuid4()
        with pytest.raises(CommandRefused) as missing:
            commands.record(pid, FileAccusation(**envelope(T0)))
        assert missing.value.code == "proceeding_not_found"
        commands.record(pid, opening(pid))
        with pytest.raises(CommandRefused) as nobody:
            commands.record(pid, FileAccusation(**envelope(T0 + HOUR)))
        assert nobody.value.code == "nobody_imputed"

    def test_concurrent_accusations_file_one(
        self, store: ProceedingStore, commands: ProceedingCommands, engine: Engine
    ) -> None:
        """Decided at once on the same state: one wins the version, the others decide again
        on the new state and are refused by the rules."""
        pid = uuid4()
        commands.record(pid, opening(pid))
        commands.record(pid, impute(T0 + HOUR))
        writers = 4
        start = threading.Barrier(writers)

        def accuse(_: int) -> str:
            command = FileAccusation(**envelope(T0 + 2 * HOUR))
            start.wait()
            try:
                commands.record(pid, command)
            except CommandRefused as refused:
                return refused.code
            return "filed"

        with ThreadPoolExecutor(writers) as pool:
            outcomes = sorted(pool.map(accuse, range(writers)))
        assert outcomes == ["already_prosecuted"] * (writers - 1) + ["filed"]
        assert [e.type for e in store.read_stream(pid)][-1] == "AccusationFiled"
        assert stored_events(engine) == 3


def _random_command(rng: random.Random, at: datetime, cases: list[UUID]) -> ProceedingCommand:
    occurred = at - timedelta(minutes=rng.randint(0, 90))
    base = envelope(at, occurred_at=occurred)
    match rng.randint(0, 9):
        case 0 | 1:
            return LinkVictims(
                **base, case_ids=tuple(rng.sample(cases, min(len(cases), rng.randint(1, 3))))
            )
        case 2 | 3 | 4:
            persons = [
                ImputedPerson(sex=rng.choice(list(Sex)), nationality=rng.choice([None, "DO", "VE"]))
                for _ in range(rng.randint(1, 3))
            ]
            return ImputePersons(**base, persons=tuple(persons))
        case 5 | 6:
            return FileAccusation(**base)
        case 7 | 8:
            verdict = rng.choice(list(Verdict))
            convicted = 0 if verdict is Verdict.ACQUITTAL else rng.randint(1, 3)
            return HandDownSentence(**base, verdict=verdict, convicted=convicted)
    return ArchiveProceeding(**base, reason=rng.choice(list(ArchiveReason)))


def record_random_proceedings(
    commands: ProceedingCommands, seed: int, count: int, cases: list[UUID]
) -> list[UUID]:
    """`count` proceedings, their commands interleaved (refusals simply not recorded)."""
    rng = random.Random(seed)
    ids = [UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]
    at = T0
    for pid in ids:
        at += timedelta(hours=rng.uniform(0, 48))
        crime = rng.choice(list(CrimeType))
        victims = tuple(rng.sample(cases, min(len(cases), rng.randint(0, 2))))
        opened = OpenInvestigation(
            **envelope(at), proceeding_id=pid, crime_type=crime, case_ids=victims
        )
        commands.record(pid, opened)
    for _ in range(count * 6):
        at += timedelta(hours=rng.uniform(1, 12))
        pid = rng.choice(ids)
        with contextlib.suppress(CommandRefused):
            commands.record(pid, _random_command(rng, at, cases))
    return ids


class TestProjection:
    def test_inline_rows_equal_a_rebuild_and_the_domain_fold(
        self, store: ProceedingStore, commands: ProceedingCommands, engine: Engine
    ) -> None:
        cases = [uuid4() for _ in range(8)]
        ids = record_random_proceedings(commands, seed=7, count=12, cases=cases)
        inline = tables(engine)
        assert rebuild(engine) == stored_events(engine)
        assert tables(engine) == inline
        assert len(inline["proceedings"]) == len(ids)
        stages = {row["stage"] for row in inline["proceedings"]}
        assert len(stages) >= 3, stages  # the seed reaches most stages
        for row in inline["proceedings"]:
            state = store.state(row["proceeding_id"])
            assert row["version"] == state.version and row["stage"] == state.stage
            assert row["victims"] == len(state.case_ids) and row["imputed"] == state.imputed
            assert row["ended_at"] == state.ended_at and row["verdict"] == state.verdict
            seqs = [
                i["seq"]
                for i in inline["proceeding_imputations"]
                if i["proceeding_id"] == row["proceeding_id"]
            ]
            assert seqs == list(range(1, state.imputed + 1))
            linked = store.victims([row["proceeding_id"]])[row["proceeding_id"]]
            assert linked == sorted(state.case_ids)

    def test_a_rebuild_restores_a_damaged_projection(
        self, commands: ProceedingCommands, engine: Engine
    ) -> None:
        record_random_proceedings(commands, seed=3, count=4, cases=[uuid4() for _ in range(4)])
        inline = tables(engine)
        with engine.begin() as conn:
            conn.execute(proceeding_imputations.delete())
            conn.execute(proceedings.update().values(stage="archived"))
        rebuild(engine)
        assert tables(engine) == inline


class TestReads:
    def test_lists_filter_and_page_newest_first(
        self, store: ProceedingStore, commands: ProceedingCommands
    ) -> None:
        ids = record_random_proceedings(commands, seed=11, count=9, cases=[uuid4()])
        everything = store.list(limit=100).items
        assert {p.proceeding_id for p in everything} == set(ids)
        assert [p.opened_at for p in everything] == sorted(
            (p.opened_at for p in everything), reverse=True
        )
        pages: list[ProceedingSummary] = []
        cursor: str | None = None
        while True:
            page = store.list(limit=2, cursor=cursor)
            pages.extend(page.items)
            if (cursor := page.next_cursor) is None:
                break
        assert pages == list(everything)
        for crime in CrimeType:
            found = store.list(crime_type=crime, limit=100).items
            assert found == tuple(p for p in everything if p.crime_type is crime)
        for stage in ProceedingStage:
            found = store.list(stage=stage, limit=100).items
            assert found == tuple(p for p in everything if p.stage is stage)
        with pytest.raises(InvalidCursor):
            store.list(cursor="not-a-cursor")
        with pytest.raises(ValueError, match="limit"):
            store.list(limit=0)

    def test_victims_as_a_scope_admits_them(
        self, engine: Engine, commands: ProceedingCommands, store: ProceedingStore
    ) -> None:
        histories = random_cases(5, 6, commands=0)
        EventStore(engine).append([e for h in histories for e in h.events])
        case_ids = [h.case_id for h in histories]
        pid = uuid4()
        commands.record(pid, opening(pid, case_ids=tuple(case_ids)))
        assert store.victims([pid])[pid] == sorted(case_ids)
        for history in histories:
            caseworker, institution = history.state.assigned_to, history.state.institution
            mine = store.victims([pid], scope={"assigned_to": caseworker})[pid]
            assert mine == sorted(h.case_id for h in histories if h.state.assigned_to == caseworker)
            theirs = store.victims([pid], scope={"institution": institution})[pid]
            assert (history.case_id in theirs) is (institution is not None)
        assert store.victims([pid], scope={"institution": None}) == {pid: []}
        assert store.victims([]) == {}

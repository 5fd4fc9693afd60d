"""The statistics' view of each person (`identified_victims`): written inline as cases are
appended, equal to its rebuild and to the cases' own state, and untouched by an erasure;
on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Engine, select

from domain.vocabulary import Step
from store.event_store import EventStore
from store.schema import identified_victims
from store.victim_statistics import VictimStatisticsProjector
from tests.support.cases import interleaved, random_cases


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(identified_victims).order_by(identified_victims.c.case_id)
        return [dict(row) for row in conn.execute(query).mappings()]


def test_inline_rows_equal_the_rebuild_and_the_cases(engine: Engine) -> None:
    store = EventStore(engine, also=[VictimStatisticsProjector()])
    histories = random_cases(seed=9, count=40)
    for batch in interleaved(histories, random.Random(9)):
        store.append(batch)
    inline = rows(engine)
    assert VictimStatisticsProjector().rebuild(engine) > 0
    assert rows(engine) == inline
    by_case = {row["case_id"]: row for row in inline}
    assert set(by_case) == {h.case_id for h in histories}
    identified = 0
    for history in histories:
        state, row = history.state, by_case[history.case_id]
        assert row["crime_type"] == state.crime_type
        assert state.person is not None
        assert row["sex"] == state.person.sex and row["nationality"] == state.person.nationality
        identification = state.steps[Step.IDENTIFICATION]
        if identification.outcome is None:
            assert (row["outcome"], row["identified_at"]) == (None, None)
        else:
            identified += 1
            assert row["outcome"] == identification.outcome
            assert row["identified_at"] == identification.updated_at
    assert identified, "some histories complete their identification"

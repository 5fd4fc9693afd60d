"""The store with sealing on, as production runs it: no personal data in clear in the
database; events, states and rebuilds read back equal; an erased person reads as erased."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine, select, text

from domain.personal import ERASED
from store.case_state import stored_state
from store.event_store import EventStore
from store.person_index import PersonIndex, PersonIndexProjector
from store.projections import CaseProjector
from store.read_models import CaseReads
from store.schema import cases
from store.sealing import DataKeys
from store.visas import VisaProjector, VisaReads
from tests.support.cases import CaseHistory, interleaved
from tests.support.visas import visa_cases

MASTER = os.urandom(32)
NOTES = ("called the shelter", "waiting on MINSA")


def wrap_key(key_id: str | None) -> tuple[str, bytes]:
    return key_id or "k1", MASTER


def sealed_store(engine: Engine) -> tuple[EventStore, DataKeys]:
    keys = DataKeys(engine, wrap_key)
    index = PersonIndexProjector(PersonIndex(b"i" * 32))
    return EventStore(engine, also=[index, VisaProjector()], keys=keys), keys


def every_text(engine: Engine) -> str:
    """Every value of every table, as text: what someone holding the database file reads."""
    found = []
    with engine.connect() as conn:
        for table in ("events", "cases", "case_steps", "visas", "person_index", "data_keys"):
            found += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    return "\n".join(found)


def personal(found: list[CaseHistory]) -> set[str]:
    """The personal values to look for (five characters at least: a shorter name, say
    "Ana", turns up by chance in kilobytes of base64)."""
    values: set[str] = set(NOTES)
    for h in found:
        person = h.state.person
        assert person is not None
        values |= {person.given_name, person.family_name}
        values |= {v.number for v in h.state.visas.values()}
    return {v for v in values if len(v) >= 5}


def test_nothing_personal_in_clear_and_everything_reads_back(engine: Engine) -> None:
    store, keys = sealed_store(engine)
    found = visa_cases(seed=51, count=25)
    for batch in interleaved(found, random.Random(51)):
        store.append(batch)
    dump = every_text(engine)
    leaked = {v for v in personal(found) if v in dump}
    assert not leaked, f"in clear in the database: {leaked}"
    for h in found:
        assert store.read_stream(h.case_id) == h.events
        assert stored_state(engine, h.case_id, keys) == h.state
    # A rebuild opens and seals again: the same states, still nothing in clear.
    before = {h.case_id: stored_state(engine, h.case_id, keys) for h in found}
    CaseProjector(keys=keys).rebuild(engine, batch_size=13)
    VisaProjector().rebuild(engine, keys=keys)
    assert {h.case_id: stored_state(engine, h.case_id, keys) for h in found} == before
    assert not {v for v in personal(found) if v in every_text(engine)}


def test_what_a_command_answers_with_is_the_case_and_its_person_as_read_apart(
    engine: Engine,
) -> None:
    """`CaseReads.with_person` (one connection, the state read as text) gives what `get`
    and `person` give; `owner` the two columns of `get` that decide who sees the case;
    an erased person reads as erased there too, and an unknown case as None."""
    store, keys = sealed_store(engine)
    found = visa_cases(seed=53, count=6)
    for batch in interleaved(found, random.Random(53)):
        store.append(batch)
    with engine.begin() as conn:
        keys.erase(conn, found[0].case_id, datetime.now(UTC))
    reads = CaseReads(engine, store)
    for h in found:
        summary = reads.get(h.case_id)
        assert summary is not None
        assert reads.with_person(h.case_id) == (summary, reads.person(h.case_id))
        assert reads.owner(h.case_id) == (summary.assigned_to, summary.institution)
    erased = reads.with_person(found[0].case_id)
    assert erased is not None and erased[1] is not None and erased[1].given_name == ERASED
    assert reads.with_person(uuid4()) is None
    assert reads.owner(uuid4()) is None


def test_an_erased_person_reads_as_erased_everywhere(engine: Engine) -> None:
    store, keys = sealed_store(engine)
    found = visa_cases(seed=52, count=4)
    for batch in interleaved(found, random.Random(52)):
        store.append(batch)
    erased, kept = found[0], found[1]
    with engine.begin() as conn:
        keys.erase(conn, erased.case_id, datetime.now(UTC))
    gone = stored_state(engine, erased.case_id, keys)
    assert gone is not None and gone.person is not None
    assert (gone.person.given_name, gone.person.family_name, gone.person.birth_date) == (
        ERASED,
        ERASED,
        None,
    )
    assert all(v.number == ERASED for v in gone.visas.values())
    assert (gone.status, gone.version, gone.steps.keys()) == (
        erased.state.status,
        erased.state.version,
        erased.state.steps.keys(),
    ), "the path stays"
    opening = store.read_stream(erased.case_id)[0]
    assert opening.data.person.given_name == ERASED  # type: ignore[union-attr]
    assert stored_state(engine, kept.case_id, keys) == kept.state
    pairs = [(erased.case_id, v) for v in erased.state.visas]
    assert all(v.number == ERASED for v in VisaReads(engine).personal(pairs, keys).values())
    with engine.connect() as conn:
        row: Any = conn.execute(select(cases.c.state).where(cases.c.case_id == erased.case_id))
        assert erased.state.person is not None
        assert erased.state.person.given_name not in str(row.scalar_one())

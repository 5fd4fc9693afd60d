"""Data keys and sealed personal fields, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from sqlalchemy import Engine, select

from domain.person import Person, Sex
from domain.personal import ERASED, SEALED, sealed
from store.schema import data_keys
from store.sealing import DataKeys

MASTERS = {"k1": os.urandom(32), "k2": os.urandom(32)}
CURRENT = ["k1"]


def wrap_key(key_id: str | None) -> tuple[str, bytes]:
    chosen = key_id or CURRENT[0]
    return chosen, MASTERS[chosen]


PERSON = Person(
    given_name="Rosa", family_name="Peña", sex=Sex.FEMALE, nationality="VE",
    birth_date=date(1990, 4, 2),
)  # fmt: skip


def test_personal_fields_are_sealed_and_open_with_their_case_only(engine: Engine) -> None:
    keys = DataKeys(engine, wrap_key)
    case, other = uuid4(), uuid4()
    dumped = PERSON.model_dump(mode="json", context=sealed(keys.for_sealing(case)))
    assert all(
        str(dumped[f]).startswith(SEALED) for f in ("given_name", "family_name", "birth_date")
    )
    assert (dumped["sex"], dumped["nationality"]) == ("female", "VE")  # for statistics
    assert "Rosa" not in str(dumped) and "1990" not in str(dumped)
    with engine.connect() as conn:
        openers = keys.for_opening(conn, [case, other])
    assert Person.model_validate(dumped, context=sealed(openers[case])) == PERSON
    moved = Person.model_validate(dumped, context=sealed(openers[other]))  # no key: unreadable
    assert (moved.given_name, moved.birth_date) == (ERASED, None)


def test_rotation_keeps_old_keys_readable_and_erasure_destroys_the_key(engine: Engine) -> None:
    keys = DataKeys(engine, wrap_key)
    before = uuid4()
    old = PERSON.model_dump_json(context=sealed(keys.for_sealing(before)))
    CURRENT[0] = "k2"
    try:
        after = uuid4()
        keys.for_sealing(after)
        with engine.connect() as conn:
            query = select(data_keys.c.case_id, data_keys.c.master_key_id)
            masters = dict(conn.execute(query).all())
            assert (masters[before], masters[after]) == ("k1", "k2")
            opener = keys.for_opening(conn, [before])[before]
        assert Person.model_validate_json(old, context=sealed(opener)) == PERSON
        assert keys.rewrap() == 1  # `before`'s key, now wrapped by k2 as well
        with engine.connect() as conn:
            assert dict(conn.execute(query).all())[before] == "k2"
            opener = keys.for_opening(conn, [before])[before]
        assert Person.model_validate_json(old, context=sealed(opener)) == PERSON
        assert keys.rewrap() == 0
        with engine.begin() as conn:
            keys.erase(conn, before, datetime.now(UTC))
        other_process = DataKeys(engine, wrap_key)  # another API process: reads the key anew
        with engine.connect() as conn:
            for reader in (keys, other_process):
                opener = reader.for_opening(conn, [before])[before]
                gone = Person.model_validate_json(old, context=sealed(opener))
                assert (gone.given_name, gone.family_name, gone.birth_date) == (
                    ERASED,
                    ERASED,
                    None,
                )
            row = conn.execute(select(data_keys).where(data_keys.c.case_id == before)).one()
        assert row.wrapped_key is None and row.erased_at is not None
        # Nothing personal is sealed for an erased person again.
        assert keys.for_sealing(before).seal("Rosa") == ERASED
    finally:
        CURRENT[0] = "k1"


def test_without_a_sealer_nothing_changes_and_sealed_values_need_one() -> None:
    assert PERSON.model_dump(mode="json")["given_name"] == "Rosa"
    keys_less = {
        "given_name": SEALED + "AAAA",
        "family_name": "x",
        "sex": "female",
        "nationality": "VE",
    }
    with pytest.raises(ValueError, match="read it through the store"):
        Person.model_validate(keys_less)

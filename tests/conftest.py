"""Fixtures shared by every test suite, one section per concern."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from store.db import make_engine
from store.event_store import EventStore
from store.migrate import upgrade

# --- keys --------------------------------------------------------------------------------
# Every Settings() the tests build, and every `amparo` process they start, finds the master
# keys here (as an operator's AMPARO_MASTER_KEYS); tests about missing keys remove it.
TEST_MASTER_KEYS = json.dumps({"current": "ktest", "keys": {"ktest": "a5" * 32}})
os.environ.setdefault("AMPARO_MASTER_KEYS", TEST_MASTER_KEYS)

# --- databases ---------------------------------------------------------------------------
# `database_url` runs a test once per backend: a fresh SQLite file, and a fresh schema in
# the PostgreSQL database named by AMPARO_TEST_POSTGRES_URL (skipped without it, except
# in CI, where a missing PostgreSQL must fail rather than quietly test less).

POSTGRES_URL_VARIABLE = "AMPARO_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The test PostgreSQL server's URL, or skip (fail in CI) when there is none."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        message = f"{POSTGRES_URL_VARIABLE} is not set"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A URL whose connections live in a new, empty schema, dropped afterwards."""
    name = f"t_{uuid4().hex}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'amparo.db'}"
        return
    with postgres_schema(postgres_url()) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the migrated database."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def event_store(engine: Engine) -> EventStore:
    return EventStore(engine)

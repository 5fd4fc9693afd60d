"""The migrations build exactly `store.schema`, and engines are set up as designed."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, inspect

from store.db import is_sqlite, make_engine
from store.migrate import upgrade
from store.schema import metadata


def schema_differences(engine: Engine, target: MetaData) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), target))


def test_migrated_schema_equals_the_metadata(engine: Engine) -> None:
    assert schema_differences(engine, metadata) == []


def test_the_comparison_notices_a_difference(engine: Engine) -> None:
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["cases"].append_column(Column("priority", Integer))
    assert schema_differences(engine, changed) != []


def test_upgrading_again_changes_nothing(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    assert schema_differences(engine, metadata) == []
    assert set(inspect(engine).get_table_names()) >= set(metadata.tables)


def test_sqlite_is_set_up_for_durable_single_writer_use(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'amparo.db'}")
    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }
    engine.dispose()
    assert is_sqlite(engine)
    full = 2
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": full,
        "busy_timeout": 30000,
        "foreign_keys": 1,
    }

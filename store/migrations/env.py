"""Alembic environment: on the connection `store.migrate` hands over, or from the URL.

Developers run `alembic` from the repository root with `AMPARO_DATABASE_URL` set.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from store.db import make_engine
from store.schema import metadata

config = context.config
if config.config_file_name is not None:  # the CLI, not `store.migrate`: its logging setup
    fileConfig(config.config_file_name)


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("AMPARO_DATABASE_URL")
    if not url:
        raise RuntimeError("set AMPARO_DATABASE_URL to the database to migrate")
    return url


def _run(connection: Connection) -> None:
    # Batch mode lets later migrations ALTER tables on SQLite (it copies the table).
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Print the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

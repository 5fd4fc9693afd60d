"""Engines survive what happens to their pooled connections between uses."""

from __future__ import annotations

from sqlalchemy import Engine, text

from store.db import is_sqlite


def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
    engine: Engine, database_url: str
) -> None:
    """As after a server restart: the checkout notices without a round trip and reconnects."""
    if is_sqlite(engine):
        return  # an embedded database has no server to lose
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = engine.pool.recreate()  # a separate pool for the one that terminates it
    try:
        raw = other.connect()
        cursor = raw.cursor()
        # Waits until the backend is gone (it has closed its socket by then).
        cursor.execute(f"SELECT pg_terminate_backend({int(pid)}, 5000)")
        raw.commit()
        raw.close()
    finally:
        other.dispose()
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid

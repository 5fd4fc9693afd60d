"""Persistence: the append-only event store, its projections and migrations.

SQLAlchemy 2 Core on SQLite (embedded) or PostgreSQL (production); the few places
where the two differ live in `store.db`.
"""

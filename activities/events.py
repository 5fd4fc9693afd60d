"""The append activity: the only way events reach the store."""

from __future__ import annotations

from temporalio import activity

from activities.models import APPEND_EVENTS, AppendEventsInput, AppendEventsResult
from store.event_store import EventStore


class EventActivities:
    """Built once per worker with its event store (one connection pool for every case)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name=APPEND_EVENTS)
    def append_events(self, inp: AppendEventsInput) -> AppendEventsResult:
        """Store the events and their projections in one transaction; a retry is a no-op."""
        return AppendEventsResult(appended=self._store.append(inp.events))

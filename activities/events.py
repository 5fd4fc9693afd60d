"""The append activity: the only way events reach the store."""

from __future__ import annotations

from temporalio import activity

from activities.models import APPEND_EVENTS, AppendEventsInput, AppendEventsResult
from store.event_store import EventStore, VersionConflict


class EventActivities:
    """Built once per worker with its event store (one connection pool for every case)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name=APPEND_EVENTS)
    def append_events(self, inp: AppendEventsInput) -> AppendEventsResult:
        """Store the events and their projections in one transaction; a retry is a no-op.

        Run as a local activity, the append happens before the workflow task that decided
        the events is in Temporal's history; a task lost to a crash can leave events that
        its re-run decides again differently (another clock, another order). With
        `catch_up`, that conflict answers with the stored stream, which the workflow adopts.
        """
        try:
            return AppendEventsResult(appended=self._store.append(inp.events))
        except VersionConflict:
            if not inp.catch_up or not inp.events:
                raise
            first = inp.events[0]
            stored = self._store.read_stream(first.case_id, after_version=first.version - 1)
            if not stored:  # the batch skips ahead of its stream: nothing to adopt, a bug
                raise
            return AppendEventsResult(appended=0, stored=stored)

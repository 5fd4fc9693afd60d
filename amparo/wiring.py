"""Building the store with every inline projection: the same wiring for worker, API and CLI."""

from __future__ import annotations

from sqlalchemy import Engine

from amparo.keys import index_key
from amparo.settings import Settings
from store.event_store import EventStore, InlineProjector
from store.person_index import PersonIndex, PersonIndexProjector
from store.referrals import ReferralProjector
from store.visas import VisaProjector


def person_index(settings: Settings) -> PersonIndex:
    return PersonIndex(index_key(settings))


def event_store(engine: Engine, settings: Settings) -> EventStore:
    """The event store with every inline projection: cases, the blind index of names, the
    visas and the referrals."""
    also: list[InlineProjector] = [
        PersonIndexProjector(person_index(settings)),
        VisaProjector(),
        ReferralProjector(),
    ]
    return EventStore(engine, also=also)

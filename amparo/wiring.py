"""Building the store with every inline projection: the same wiring for worker, API and CLI."""

from __future__ import annotations

from functools import partial

from sqlalchemy import Engine

from amparo.keyring import master_keyring
from amparo.keys import index_key
from amparo.settings import Settings
from store.event_store import EventStore, InlineProjector
from store.person_index import PersonIndex, PersonIndexProjector
from store.referrals import ReferralProjector
from store.sealing import DataKeys
from store.victim_statistics import VictimStatisticsProjector
from store.visas import VisaProjector

DATA_KEY_WRAP = "data-key-wrap"  # the master keys' sub-key that wraps data keys


def person_index(settings: Settings) -> PersonIndex:
    return PersonIndex(index_key(settings))


def data_keys(engine: Engine, settings: Settings) -> DataKeys:
    """Each person's data key in `engine`'s database, wrapped by the configured master keys."""
    return DataKeys(engine, partial(master_keyring(settings).derive, DATA_KEY_WRAP))


def event_store(engine: Engine, settings: Settings, *, sealed: bool = True) -> EventStore:
    """The event store with every inline projection (cases, the blind index of names, the
    visas, the referrals and the statistics' view of each person) and personal fields
    sealed with each person's data key (`sealed=False`: stored as they are, for the
    benchmark of what sealing costs)."""
    also: list[InlineProjector] = [
        PersonIndexProjector(person_index(settings)),
        VisaProjector(),
        ReferralProjector(),
        VictimStatisticsProjector(),
    ]
    return EventStore(engine, also=also, keys=data_keys(engine, settings) if sealed else None)

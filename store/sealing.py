"""Each person's data key, and the sealers that use it (envelope encryption).

A case (one person) gets a random 256-bit data key the first time something personal of
it is stored; the key is kept wrapped (AES-256-GCM) by a master key from the keyring, in
`data_keys`. Personal fields (`domain.personal`) are sealed with it, AES-256-GCM with the
case id as associated data, so a sealed value cannot be moved to another case. Erasing the
person destroys the wrapped key: every sealed field of theirs, in every event and
projection and backup, is unreadable from then on, while types, dates and codes remain.

Sealing may use a key remembered from earlier (a key destroyed since only seals data
nobody can open again); opening always reads the key from the database, so an erasure
takes effect at once in every process.
"""

from __future__ import annotations

import base64
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from threading import Lock
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, bindparam, select, update

from domain import Event
from domain.personal import ERASED, SEALED
from store.db import insert
from store.schema import data_keys, stored_event

# The master key that wraps data keys: (key id or None for the current one) -> (id, key).
WrapKey = Callable[[str | None], tuple[str, bytes]]
_NONCE = 12
_PER_QUERY = 1000  # case ids per IN list: far below SQLite's parameter limit
# Built once (its cache key memoised): every read of a case's person runs it.
_KEYS_OF = select(data_keys.c.case_id, data_keys.c.master_key_id, data_keys.c.wrapped_key).where(
    data_keys.c.case_id.in_(bindparam("ids", expanding=True))
)


class CaseSealer:
    """Seals and opens one case's personal fields; without a key (erased) it opens
    nothing and seals nothing personal again."""

    def __init__(self, case_id: UUID, key: bytes | None) -> None:
        self._aad = case_id.bytes
        self._aes = AESGCM(key) if key is not None else None

    def seal(self, plaintext: str) -> str:
        if self._aes is None:
            return ERASED
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aes.encrypt(nonce, plaintext.encode(), self._aad)
        return SEALED + base64.b64encode(sealed).decode()

    def open(self, sealed: str) -> str | None:
        if self._aes is None:
            return None
        raw = base64.b64decode(sealed[len(SEALED) :])
        try:
            return self._aes.decrypt(raw[:_NONCE], raw[_NONCE:], self._aad).decode()
        except InvalidTag:
            return None  # sealed with a key since destroyed and replaced: unreadable


def opened_events(conn: Connection, rows: Iterable[Any], keys: DataKeys | None) -> list[Event]:
    """Stored `events` rows as events, each case's personal fields opened with its key."""
    page = list(rows)
    openers = keys.for_opening(conn, {row["case_id"] for row in page}) if keys else {}
    return [stored_event(row, openers.get(row["case_id"])) for row in page]


class DataKeys:
    """The data keys of every case, wrapped by the master keys of `wrap_key`."""

    def __init__(self, engine: Engine, wrap_key: WrapKey, *, remember: int = 4096) -> None:
        self._engine = engine
        self._wrap_key = wrap_key
        self._remember = remember
        self._sealing: OrderedDict[UUID, CaseSealer] = OrderedDict()
        self._lock = Lock()

    def for_sealing(self, case_id: UUID) -> CaseSealer:
        """The sealer that stores new personal data of this case (its key made if new)."""
        with self._lock:
            found = self._sealing.get(case_id)
            if found is not None:
                self._sealing.move_to_end(case_id)
                return found
        with self._engine.begin() as conn:  # its own commit: a key is never lost with a
            key = self._stored(conn, [case_id]).get(case_id, b"")  # failed append
            if key == b"":
                key = self._create(conn, case_id)
        sealer = CaseSealer(case_id, key)
        with self._lock:
            self._sealing[case_id] = sealer
            while len(self._sealing) > self._remember:
                self._sealing.popitem(last=False)
        return sealer

    def for_opening(self, conn: Connection, case_ids: Iterable[UUID]) -> dict[UUID, CaseSealer]:
        """Sealers that open these cases' personal fields, keys read now (one query)."""
        wanted = list(set(case_ids))
        stored = self._stored(conn, wanted) if wanted else {}
        return {case_id: CaseSealer(case_id, stored.get(case_id) or None) for case_id in wanted}

    def for_rebuild(self, conn: Connection, case_ids: Iterable[UUID]) -> dict[UUID, CaseSealer]:
        """Sealers for rewriting these cases' rows in `conn`'s transaction: their keys,
        made in it for cases stored before their personal data was sealed."""
        wanted = list(case_ids)
        stored = self._stored(conn, wanted)
        for case_id in (c for c in wanted if c not in stored):
            stored[case_id] = self._create(conn, case_id)
        return {case_id: CaseSealer(case_id, key) for case_id, key in stored.items()}

    def erase(self, conn: Connection, case_id: UUID, at: datetime) -> None:
        """Destroy the case's data key, in the caller's transaction."""
        statement = (
            update(data_keys)
            .where(data_keys.c.case_id == case_id)
            .values(wrapped_key=None, erased_at=at)
        )
        if conn.execute(statement).rowcount == 0:  # nothing was ever sealed: mark it anyway
            conn.execute(
                insert(conn, data_keys)
                .values(case_id=case_id, master_key_id="-", wrapped_key=None, created_at=at,
                        erased_at=at)
                .on_conflict_do_nothing(index_elements=["case_id"])
            )  # fmt: skip
        with self._lock:
            self._sealing[case_id] = CaseSealer(case_id, None)

    def rewrap(self) -> int:
        """Wrap every data key with the current master key (after a rotation); the sealed
        fields stay as they are. Returns how many keys were wrapped anew."""
        current, master = self._wrap_key(None)
        query = select(data_keys.c.case_id, data_keys.c.master_key_id, data_keys.c.wrapped_key)
        count = 0
        with self._engine.begin() as conn:
            rows = conn.execute(
                query.where(data_keys.c.wrapped_key.is_not(None)).where(
                    data_keys.c.master_key_id != current
                )
            ).all()
            for case_id, master_id, wrapped in rows:
                key = self._unwrap(case_id, master_id, wrapped)
                nonce = os.urandom(_NONCE)
                anew = nonce + AESGCM(master).encrypt(nonce, key, case_id.bytes)
                conn.execute(
                    update(data_keys)
                    .where(data_keys.c.case_id == case_id)
                    .values(master_key_id=current, wrapped_key=anew)
                )
                count += 1
        return count

    def _stored(self, conn: Connection, case_ids: list[UUID]) -> dict[UUID, bytes | None]:
        """The unwrapped keys of the cases that have a row (None: destroyed)."""
        found: dict[UUID, bytes | None] = {}
        for start in range(0, len(case_ids), _PER_QUERY):
            part = case_ids[start : start + _PER_QUERY]
            for case_id, master_id, wrapped in conn.execute(_KEYS_OF, {"ids": part}):
                found[case_id] = (
                    None if wrapped is None else self._unwrap(case_id, master_id, wrapped)
                )
        return found

    def _create(self, conn: Connection, case_id: UUID) -> bytes:
        key = AESGCM.generate_key(bit_length=256)
        master_id, master = self._wrap_key(None)
        nonce = os.urandom(_NONCE)
        wrapped = nonce + AESGCM(master).encrypt(nonce, key, case_id.bytes)
        conn.execute(
            insert(conn, data_keys)
            .values(case_id=case_id, master_key_id=master_id, wrapped_key=wrapped,
                    created_at=datetime.now().astimezone())
            .on_conflict_do_nothing(index_elements=["case_id"])
        )  # fmt: skip
        stored = self._stored(conn, [case_id]).get(case_id)  # the winner, if another raced
        return stored if stored is not None else key

    def _unwrap(self, case_id: UUID, master_id: str, wrapped: bytes) -> bytes:
        _, master = self._wrap_key(master_id)
        return AESGCM(master).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], case_id.bytes)

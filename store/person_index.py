"""Finding a person without storing their name: a keyed hash (blind index) of name tokens.

Names are normalised (accents stripped, case folded) and split into tokens; each token is
stored only as HMAC-SHA256 under the index key, so "pena" finds "Peña" and the database
holds no name to read. An identity digest (full name, birth date, nationality) spots a
person identified before.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Connection, Engine, delete, func, insert, select

from domain import Event
from domain.events import CaseOpened
from domain.person import Person
from store.schema import events, person_index
from store.sealing import DataKeys, opened_events

_SPLIT = re.compile(r"[^0-9a-z]+")


def tokens(text: str) -> list[str]:
    """Accent- and case-insensitive tokens of a name: "Peña-Núñez" -> ["pena", "nunez"]."""
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    return [t for t in _SPLIT.split(stripped.casefold()) if t]


class PersonIndex:
    """The keyed digests of names; without the key they reveal nothing."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the index key must be at least 32 bytes")
        self._key = key

    def digest(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def token_digests(self, text: str) -> set[str]:
        return {self.digest("t:" + t) for t in tokens(text)}

    def identity_digest(self, person: Person) -> str:
        name = " ".join(tokens(f"{person.given_name} {person.family_name}"))
        born = person.birth_date.isoformat() if person.birth_date else "-"
        return self.digest(f"i:{name}|{born}|{person.nationality}")

    def rows(self, case_id: UUID, person: Person) -> list[dict[str, object]]:
        names = self.token_digests(f"{person.given_name} {person.family_name}")
        found = [{"case_id": case_id, "kind": "token", "digest": d} for d in sorted(names)]
        found.append(
            {"case_id": case_id, "kind": "identity", "digest": self.identity_digest(person)}
        )
        return found


class PersonIndexProjector:
    """Keeps `person_index` in step with `CaseOpened` events (inline, and on rebuild)."""

    def __init__(self, index: PersonIndex) -> None:
        self._index = index

    def apply(self, conn: Connection, new: Sequence[Event]) -> None:
        rows = [
            row
            for event in new
            if isinstance(event.data, CaseOpened)
            for row in self._index.rows(event.case_id, event.data.person)
        ]
        if rows:
            conn.execute(insert(person_index), rows)

    def rebuild(self, engine: Engine, keys: DataKeys | None = None) -> None:
        """Refold every opening; the names are opened with `keys` (an erased one: none)."""
        with engine.begin() as conn:
            conn.execute(delete(person_index))
            opened = conn.execute(select(events).where(events.c.type == "CaseOpened"))
            self.apply(conn, opened_events(conn, opened.mappings(), keys))


def matching_cases(conn: Connection, index: PersonIndex, text: str) -> set[UUID]:
    """Cases whose person's name has every token of `text`."""
    wanted = index.token_digests(text)
    if not wanted:
        return set()
    query = (
        select(person_index.c.case_id)
        .where(person_index.c.kind == "token", person_index.c.digest.in_(sorted(wanted)))
        .group_by(person_index.c.case_id)
        .having(func.count(person_index.c.digest.distinct()) == len(wanted))
    )
    return set(conn.execute(query).scalars())


def same_person(conn: Connection, index: PersonIndex, person: Person) -> set[UUID]:
    """Cases of a person with the same name, birth date and nationality."""
    query = select(person_index.c.case_id).where(
        person_index.c.kind == "identity",
        person_index.c.digest == index.identity_digest(person),
    )
    return set(conn.execute(query).scalars())

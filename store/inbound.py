"""Signed requests already taken from institutions: each is taken once.

A signature is valid for a few minutes (`amparo.signing`); within that window the very
same request sent again (a replay, by anyone who saw it) must change nothing. The
database's unique key decides, so two API processes cannot both take it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from store.schema import inbound_signatures


class SeenSignatures:
    def __init__(self, engine: Engine, *, keep: timedelta) -> None:
        self._engine = engine
        self._keep = keep  # longer than the signatures' tolerance, both ways

    def first_time(self, signature: str, now: datetime) -> bool:
        """Record `signature` as taken; False if it was taken before (a replay)."""
        digest = hashlib.sha256(signature.encode()).hexdigest()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(inbound_signatures).where(
                        inbound_signatures.c.seen_at < now - self._keep
                    )
                )
                conn.execute(inbound_signatures.insert().values(digest=digest, seen_at=now))
        except IntegrityError:
            return False
        return True

"""Deterministic, time-ordered event ids.

Ids derive from the command's id (the idempotency key), so deciding the same command
again yields the same ids and a retried append is a no-op. The first 48 bits are the
command's millisecond timestamp (UUIDv7 layout): inserts land at the end of the unique
index instead of at random places, which is what keeps batch appends fast.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

_RANDOM_BITS = (1 << 80) - 1


def event_id(command_id: UUID, index: int, at: datetime) -> UUID:
    """The id of the `index`-th event decided by `command_id` at `at`."""
    millis = int(at.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | (uuid5(command_id, str(index)).int & _RANDOM_BITS)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return UUID(int=value)


def derived_id(command_id: UUID, purpose: str) -> UUID:
    """A stable id for something a command creates (a referral, a visa)."""
    return uuid5(command_id, purpose)


# The bits of an event id that come from its command and index, not from the clock.
_DECISION_BITS = _RANDOM_BITS & ~(0xF << 76) & ~(0x3 << 62)


def decision_key(command_id: UUID, index: int) -> int:
    """What the `index`-th event of `command_id` has in its id whenever it is decided."""
    return uuid5(command_id, str(index)).int & _DECISION_BITS


def decision_key_of(event: UUID) -> int:
    """`decision_key` read back from a stored event id: matches a command decided again later."""
    return event.int & _DECISION_BITS

"""Which fields are personal data, marked where they are declared: `PersonalText`,
`PersonalDate`.

A marked field is sealed when its model is serialised with a `Sealer` in the pydantic
context (`sealed(...)`), and opened when validated with one: the store seals each
person's fields with that person's data key, so the database holds ciphertext while
types, dates, steps and codes stay readable for supervision and statistics. Without a
sealer in the context nothing changes (in memory, and in Temporal's payloads, which the
payload codec encrypts whole). A sealed value whose key was destroyed (the person was
erased) opens as `ERASED` (text) or None (dates).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Protocol

from pydantic import BeforeValidator, PlainSerializer, SerializationInfo, ValidationInfo

SEALED = "sealed:"  # every sealed value starts so; nothing else does
ERASED = "[erased]"


class Sealer(Protocol):
    """Seals and opens one person's fields (the store's, with their data key)."""

    def seal(self, plaintext: str) -> str: ...

    def open(self, sealed: str) -> str | None:
        """The plaintext; None when the key is destroyed."""
        ...


def sealed(sealer: Sealer) -> dict[str, Any]:
    """The pydantic context that seals (dump) or opens (validate) personal fields."""
    return {"sealer": sealer}


def _sealer(context: Any) -> Sealer | None:
    return context.get("sealer") if isinstance(context, dict) else None


def _seal(value: Any, info: SerializationInfo) -> Any:
    sealer = _sealer(info.context)
    if value is None:
        return None
    plain = value.isoformat() if isinstance(value, date) else value
    return plain if sealer is None else sealer.seal(plain)


def _open(value: Any, info: ValidationInfo) -> Any:
    if not (isinstance(value, str) and value.startswith(SEALED)):
        return value
    sealer = _sealer(info.context)
    if sealer is None:
        raise ValueError("sealed personal data: read it through the store")
    return sealer.open(value)


def _open_text(value: Any, info: ValidationInfo) -> Any:
    opened = _open(value, info)
    return ERASED if opened is None and value is not None else opened


PersonalText = Annotated[str, PlainSerializer(_seal), BeforeValidator(_open_text)]
PersonalDate = Annotated[date | None, PlainSerializer(_seal), BeforeValidator(_open)]

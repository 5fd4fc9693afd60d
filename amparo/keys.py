"""Keys Amparo needs at run time, from configuration, never from code.

The index key (blind index of names) comes from `AMPARO_INDEX_KEY` (64 hex characters)
or from the key file `<data dir>/keys/index.key`; the embedded stack creates that file
on first start (readable by its owner only). Losing it makes names unsearchable, not
unreadable: back it up with the database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from amparo.settings import Settings


class KeyMaterialError(RuntimeError):
    """A missing or malformed key: the message is one line for the operator."""


def _parse(text: str, origin: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyMaterialError(f"{origin}: not hexadecimal") from None
    if len(key) < 32:
        raise KeyMaterialError(f"{origin}: needs 32 bytes (64 hex characters), has {len(key)}")
    return key


def index_key(settings: Settings, *, create: bool = True) -> bytes:
    """The blind-index key: from the environment, else the data dir's key file."""
    if settings.index_key:
        return _parse(settings.index_key, "AMPARO_INDEX_KEY")
    path = Path(settings.data_dir) / "keys" / "index.key"
    if not path.exists():
        if not create:
            raise KeyMaterialError(f"no index key: set AMPARO_INDEX_KEY or create {path}")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return _parse(path.read_text(), str(path))

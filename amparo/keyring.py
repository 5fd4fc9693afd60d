"""The master keyring: the keys that encrypt what Amparo sends to Temporal and its data keys.

The keys come from `AMPARO_MASTER_KEYS` (JSON `{"current": "<id>", "keys": {"<id>": "<64
hex>"}}`) or from the key file `<data dir>/keys/master.json` in the same shape, created
(readable by its owner only) by the embedded stack's first start. Every key stays in the
ring after a rotation, so whatever an older key encrypted stays readable; new material is
encrypted with the current key. Nothing is ever encrypted with a master key directly: each
use gets its own sub-key (`derive`), so one purpose's ciphertext says nothing about another's.

Losing the keys makes encrypted data unreadable: back the key file up with the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from amparo.keys import KeyMaterialError
from amparo.settings import Settings

VARIABLE = "AMPARO_MASTER_KEYS"
KEY_BYTES = 32  # AES-256


@dataclass(frozen=True)
class Keyring:
    """Master keys by id (32 bytes each), and the id new material is encrypted with."""

    current_id: str
    keys: dict[str, bytes] = field(repr=False)

    def current(self) -> tuple[str, bytes]:
        """The current key and its id."""
        return self.current_id, self.get(self.current_id)

    def get(self, key_id: str) -> bytes:
        """The key named `key_id`; an id the ring does not hold is a `KeyMaterialError`."""
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeyMaterialError(
                f"no master key {key_id!r} in the keyring (it holds {', '.join(sorted(self.keys))})"
            ) from None

    def derive(self, purpose: str, key_id: str | None = None) -> tuple[str, bytes]:
        """A 32-byte sub-key of `key_id` (None: the current key) for one `purpose`, and its id.

        HKDF-SHA256 with the purpose as its info: the same key and purpose always give the
        same sub-key, different purposes unrelated ones.
        """
        key_id = key_id or self.current_id
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=f"amparo/{purpose}".encode(),
        )
        return key_id, hkdf.derive(self.get(key_id))


def key_file(settings: Settings) -> Path:
    """Where the data dir keeps the master keys."""
    return Path(settings.data_dir) / "keys" / "master.json"


def master_keyring(settings: Settings, *, create: bool = False) -> Keyring:
    """The keyring from `AMPARO_MASTER_KEYS`, else from the key file.

    With `create`, a missing key file is made with one fresh key (the embedded stack's
    first start); otherwise a missing, unreadable or malformed source is a
    `KeyMaterialError` of one line naming it and what is wrong, never a key's value.
    """
    if settings.master_keys:
        return _parse(settings.master_keys, VARIABLE)
    path = key_file(settings)
    if create and not path.exists():
        _write(path, _fresh({}))
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"no master key: set {VARIABLE} or restore {path} from its backup "
            "(`amparo dev` creates it on its first start)"
        ) from None
    except OSError as error:
        raise KeyMaterialError(f"{path}: cannot be read ({error.strerror})") from None
    return _parse(text, str(path))


def rotate(settings: Settings) -> str:
    """Add a new key to the key file and make it current; old keys stay to decrypt.

    Returns the new key's id. Keys given by `AMPARO_MASTER_KEYS` are the operator's to
    change there: refused with one line.
    """
    if settings.master_keys:
        raise KeyMaterialError(
            f"the master keys come from {VARIABLE}: add the new key there and make it current"
        )
    ring = master_keyring(settings)
    document = _fresh({key_id: key.hex() for key_id, key in ring.keys.items()})
    _write(key_file(settings), document)
    current: str = document["current"]
    return current


def new_key_id(taken: set[str] | dict[str, Any], now: datetime | None = None) -> str:
    """`k<UTC yyyymmddHHMMSS>`: sortable by creation; a second key in the same second gets
    `-01`, `-02`, ... (still sorting after the first)."""
    base = "k" + (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    candidate, n = base, 0
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n:02d}"
    return candidate


def _fresh(keys: dict[str, str]) -> dict[str, Any]:
    """The key file's document with one new key added and made current."""
    key_id = new_key_id(keys)
    return {"current": key_id, "keys": keys | {key_id: secrets.token_hex(KEY_BYTES)}}


def _write(path: Path, document: dict[str, Any]) -> None:
    """Replace the key file atomically: a crash leaves the old file or the new one, whole.

    The directory is 0700 and the file 0600 from the moment it exists (never readable by
    others, not even briefly).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _parse(text: str, origin: str) -> Keyring:
    try:
        document = json.loads(text)
    except ValueError:
        raise KeyMaterialError(f"{origin}: not valid JSON") from None
    shape = '{"current": "<id>", "keys": {"<id>": "<64 hex characters>"}}'
    if not isinstance(document, dict):
        raise KeyMaterialError(f"{origin}: must be a JSON object {shape}")
    current, keys = document.get("current"), document.get("keys")
    if not isinstance(current, str) or not isinstance(keys, dict) or not keys:
        raise KeyMaterialError(f"{origin}: must be a JSON object {shape}")
    if current not in keys:
        raise KeyMaterialError(f"{origin}: the current key {current!r} is not among its keys")
    return Keyring(current, {key_id: _key(value, origin, key_id) for key_id, value in keys.items()})


def _key(value: object, origin: str, key_id: str) -> bytes:
    problem = f"{origin}: key {key_id!r} must be {KEY_BYTES * 2} hexadecimal characters"
    if not isinstance(value, str):
        raise KeyMaterialError(problem)
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        raise KeyMaterialError(f"{problem} (it is not hexadecimal)") from None
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(f"{problem} (it has {len(value.strip())})")
    return key

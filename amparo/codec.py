"""Encryption of everything Amparo sends to Temporal: names and dates never sit there in clear.

Each payload (workflow and activity inputs and results, updates, queries, memos, encoded
failures) is replaced by `binary/encrypted`: AES-256-GCM under the master keyring's
"temporal-payloads" sub-key, the key's id in the payload's metadata (and bound to the
ciphertext as associated data, so it cannot be swapped), a fresh 12-byte nonce before the
ciphertext of the whole original payload. Decoding uses the key the payload names, so
after a rotation old histories stay readable while new payloads use the new key; payloads
that are not encrypted (histories recorded before encryption) pass through unchanged.

Not imported by workflow modules: `cryptography` must not be re-imported in the sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from amparo.keyring import Keyring

PURPOSE = "temporal-payloads"
ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """An encrypted payload that cannot be decrypted: altered, or not made with our key."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec over the master keyring (see the module's docstring)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers: dict[str, AESGCM] = {}  # one derivation per key id, not per payload

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each payload encrypted under the current key."""
        key_id = self._keyring.current_id
        cipher = self._cipher(key_id)
        return [self._encrypt(cipher, key_id, payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypted payloads decrypted with the key they name; others unchanged."""
        return [self._decrypt(payload) for payload in payloads]

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = AESGCM(self._keyring.derive(PURPOSE, key_id)[1])  # unknown id: raises
            self._ciphers[key_id] = cipher
        return cipher

    @staticmethod
    def _encrypt(cipher: AESGCM, key_id: str, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID)
        if not raw_id:
            raise PayloadDecryptionError(f"an encrypted payload without its {KEY_ID}")
        key_id = raw_id.decode("utf-8", "replace")
        cipher = self._cipher(key_id)
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, raw_id)
        except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
            raise PayloadDecryptionError(
                f"a payload encrypted with key {key_id!r} does not decrypt: it was altered "
                "or encrypted with another key of that id"
            ) from None
        decrypted = Payload()
        decrypted.ParseFromString(plain)
        return decrypted

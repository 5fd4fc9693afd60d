"""The payload codec: what Temporal stores is ciphertext, and only our keys read it back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from amparo.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadDecryptionError
from amparo.keyring import Keyring, master_keyring, rotate
from amparo.keys import KeyMaterialError
from amparo.settings import Settings
from amparo.temporal import data_converter

RING = Keyring("k1", {"k1": bytes(range(32))})


@pytest.fixture(autouse=True)
def _keys_from_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests name their key source themselves: not the runner's AMPARO_MASTER_KEYS."""
    monkeypatch.delenv("AMPARO_MASTER_KEYS", raising=False)


def plain(text: str = '{"given_name": "Rosa", "family_name": "Peña"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_and_nothing_readable_in_between() -> None:
    codec = EncryptionCodec(RING)
    originals = [plain(), plain('"1990-04-02"'), Payload(metadata={"encoding": b"binary/null"})]
    encoded = await codec.encode(originals)
    for sealed in encoded:
        assert sealed.metadata["encoding"] == ENCODING
        assert sealed.metadata[KEY_ID] == b"k1"
        for secret in (b"Rosa", "Peña".encode(), b"1990", b"json/plain"):
            assert secret not in sealed.SerializeToString()
    assert await codec.decode(encoded) == originals


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(RING)
    first, second = await codec.encode([plain(), plain()])
    assert first.data[:12] != second.data[:12]  # a fresh nonce each time
    assert first.data != second.data


@pytest.mark.parametrize("where", [0, 12, -1])
async def test_a_tampered_payload_fails(where: int) -> None:
    codec = EncryptionCodec(RING)
    (sealed,) = await codec.encode([plain()])
    data = bytearray(sealed.data)
    data[where] ^= 0x01
    tampered = Payload(metadata=sealed.metadata, data=bytes(data))
    with pytest.raises(PayloadDecryptionError, match="'k1' does not decrypt"):
        await codec.decode([tampered])


async def test_a_truncated_payload_fails_clearly() -> None:
    (sealed,) = await EncryptionCodec(RING).encode([plain()])
    short = Payload(metadata=sealed.metadata, data=sealed.data[:5])
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(RING).decode([short])


async def test_the_key_id_cannot_be_swapped() -> None:
    ring = Keyring("k2", {"k1": bytes(range(32)), "k2": bytes(range(32))})  # same bytes
    (sealed,) = await EncryptionCodec(ring).encode([plain()])
    relabelled = Payload(metadata={"encoding": ENCODING, KEY_ID: b"k1"}, data=sealed.data)
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(ring).decode([relabelled])


async def test_an_unknown_key_id_fails_clearly() -> None:
    (sealed,) = await EncryptionCodec(Keyring("k7", {"k7": bytes(32)})).encode([plain()])
    with pytest.raises(KeyMaterialError, match="no master key 'k7' in the keyring"):
        await EncryptionCodec(RING).decode([sealed])
    missing = Payload(metadata={"encoding": ENCODING}, data=sealed.data)
    with pytest.raises(PayloadDecryptionError, match="without its encryption-key-id"):
        await EncryptionCodec(RING).decode([missing])


async def test_plaintext_payloads_pass_through_unchanged() -> None:
    originals = [plain(), Payload(metadata={"encoding": b"binary/null"})]
    assert await EncryptionCodec(RING).decode(originals) == originals


async def test_payloads_from_before_a_rotation_stay_readable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    before = master_keyring(settings, create=True)
    (old,) = await EncryptionCodec(before).encode([plain()])
    new_id = rotate(settings)
    after = EncryptionCodec(master_keyring(settings))
    (new,) = await after.encode([plain()])
    assert old.metadata[KEY_ID] == before.current_id.encode()
    assert new.metadata[KEY_ID] == new_id.encode() != old.metadata[KEY_ID]
    assert await after.decode([old, new]) == [plain(), plain()]
    with pytest.raises(KeyMaterialError):  # the old ring never heard of the new key
        await EncryptionCodec(before).decode([new])


async def test_the_data_converter_encrypts_values_and_failures() -> None:
    converter = data_converter(RING)
    (payload,) = await converter.encode([{"given_name": "Rosa", "birth_date": date(1990, 4, 2)}])
    assert payload.metadata["encoding"] == ENCODING
    assert b"Rosa" not in payload.data
    assert await converter.decode([payload], [dict]) == [
        {"given_name": "Rosa", "birth_date": "1990-04-02"}
    ]
    failure = Failure()
    await converter.encode_failure(ApplicationError("Rosa Peña refused", type="x"), failure)
    assert "Rosa" not in str(failure)
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == "Rosa Peña refused"
    assert data_converter().payload_codec is None  # tests that build their own client

"""The master keyring: where it comes from, what a bad one says, rotation, the key file."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amparo.keyring import Keyring, key_file, master_keyring, new_key_id, rotate
from amparo.keys import KeyMaterialError
from amparo.settings import Settings

A = "a1" * 32


@pytest.fixture(autouse=True)
def _keys_from_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests name their key source themselves: not the runner's AMPARO_MASTER_KEYS."""
    monkeypatch.delenv("AMPARO_MASTER_KEYS", raising=False)


B = "b2" * 32


def env_keys(current: str = "k1", **keys: str) -> str:
    return json.dumps({"current": current, "keys": keys or {"k1": A}})


def test_the_environment_comes_first(tmp_path: Path) -> None:
    master_keyring(Settings(data_dir=tmp_path), create=True)  # a key file that is not used
    ring = master_keyring(Settings(data_dir=tmp_path, master_keys=env_keys("k2", k1=A, k2=B)))
    assert ring.current() == ("k2", bytes.fromhex(B))
    assert ring.get("k1") == bytes.fromhex(A)


def test_create_makes_one_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ring = master_keyring(settings, create=True)
    assert list(ring.keys) == [ring.current_id]
    assert len(ring.current()[1]) == 32
    path = key_file(settings)
    assert path == tmp_path / "data" / "keys" / "master.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert master_keyring(settings) == ring  # read back the same, and not made again
    assert master_keyring(settings, create=True) == ring
    assert [p.name for p in path.parent.iterdir()] == ["master.json"]  # no temporary left


def test_a_missing_key_file_is_not_created_unless_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(KeyMaterialError) as raised:
        master_keyring(settings)
    message = str(raised.value)
    assert "AMPARO_MASTER_KEYS" in message
    assert str(key_file(settings)) in message
    assert not key_file(settings).exists()


def test_an_unreadable_key_file_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    master_keyring(settings, create=True)
    key_file(settings).chmod(0)
    if os.access(key_file(settings), os.R_OK):
        pytest.skip("running as root: every file is readable")
    with pytest.raises(KeyMaterialError, match="cannot be read"):
        master_keyring(settings)


MALFORMED = [
    ("not json {", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"keys": {"k1": A}}), "must be a JSON object"),
    (json.dumps({"current": "k1", "keys": {}}), "must be a JSON object"),
    (json.dumps({"current": "k1", "keys": [A]}), "must be a JSON object"),
    (env_keys("k9", k1=A), "the current key 'k9' is not among its keys"),
    (env_keys("k1", k1=A[:-2]), "key 'k1' must be 64 hexadecimal characters (it has 62)"),
    (env_keys("k1", k1=A + "00"), "key 'k1' must be 64 hexadecimal characters (it has 66)"),
    (env_keys("k1", k1="zz" + A[2:]), "key 'k1' must be 64 hexadecimal characters (it is not"),
    (json.dumps({"current": "k1", "keys": {"k1": 12}}), "key 'k1' must be 64 hexadecimal"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_keys_in_the_environment_give_one_line(text: str, expected: str) -> None:
    with pytest.raises(KeyMaterialError) as raised:
        master_keyring(Settings(master_keys=text))
    message = str(raised.value)
    assert message.startswith("AMPARO_MASTER_KEYS: ")
    assert expected in message
    assert_one_line_without_keys(message)


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_malformed_key_files_give_one_line(tmp_path: Path, text: str, expected: str) -> None:
    settings = Settings(data_dir=tmp_path)
    key_file(settings).parent.mkdir()
    key_file(settings).write_text(text)
    with pytest.raises(KeyMaterialError) as raised:
        master_keyring(settings)
    message = str(raised.value)
    assert message.startswith(f"{key_file(settings)}: ")
    assert expected in message
    assert_one_line_without_keys(message)


def assert_one_line_without_keys(message: str) -> None:
    assert "\n" not in message
    for key in (A, B, A[:-2], A[2:]):
        assert key not in message


def test_rotation_adds_a_current_key_and_keeps_the_old_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = master_keyring(settings, create=True)
    second_id = rotate(settings)
    third_id = rotate(settings)  # the same second: still a new, later id
    ring = master_keyring(settings)
    assert ring.current_id == third_id
    assert sorted(ring.keys) == [first.current_id, second_id, third_id]  # ids sort by age
    assert ring.get(first.current_id) == first.current()[1]
    assert len({ring.get(k) for k in ring.keys}) == 3
    assert stat.S_IMODE(key_file(settings).stat().st_mode) == 0o600


def test_rotation_refuses_keys_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="AMPARO_MASTER_KEYS") as raised:
        rotate(Settings(data_dir=tmp_path, master_keys=env_keys()))
    assert "\n" not in str(raised.value)
    assert not key_file(Settings(data_dir=tmp_path)).exists()


def test_rotation_needs_an_existing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyMaterialError, match="no master key"):
        rotate(Settings(data_dir=tmp_path))


def test_key_ids_are_short_and_sortable() -> None:
    now = datetime(2026, 12, 4, 23, 5, 9, tzinfo=UTC)
    first = new_key_id(set(), now)
    assert first == "k20261204230509"
    second = new_key_id({first}, now)
    assert second == "k20261204230509-01"
    later = new_key_id({first, second}, datetime(2026, 12, 4, 23, 5, 10, tzinfo=UTC))
    assert sorted([later, second, first]) == [first, second, later]


def test_an_unknown_key_id_is_key_material_error() -> None:
    ring = Keyring("k1", {"k1": bytes.fromhex(A)})
    with pytest.raises(KeyMaterialError, match="no master key 'k0'"):
        ring.get("k0")
    with pytest.raises(KeyMaterialError):
        ring.derive("temporal-payloads", "k0")


def test_sub_keys_differ_by_purpose_and_key_and_are_stable() -> None:
    ring = Keyring("k2", {"k1": bytes.fromhex(A), "k2": bytes.fromhex(B)})
    key_id, payloads = ring.derive("temporal-payloads")
    assert key_id == "k2"
    assert len(payloads) == 32
    assert payloads not in (ring.get("k2"), ring.derive("data-key-wrap")[1])
    assert ring.derive("temporal-payloads", "k1")[1] != payloads
    assert ring.derive("temporal-payloads", "k2") == (key_id, payloads)


def test_keys_never_show_in_the_keyrings_repr() -> None:
    ring = Keyring("k1", {"k1": bytes.fromhex(A)})
    assert A not in repr(ring)
    assert str(bytes.fromhex(A)) not in repr(ring)
    assert A not in repr(Settings(master_keys=env_keys()))

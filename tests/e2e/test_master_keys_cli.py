"""The master keys as an operator meets them: a bad or missing key stops a command with one
line; `amparo keys show` and `rotate` name keys, never their values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AMPARO = [sys.executable, "-m", "amparo.cli.main"]
KEY = "c3" * 32


def amparo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AMPARO, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def without_keys(data_dir: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AMPARO_MASTER_KEYS"}
    # Nothing listens here: a command that got past its keys would say so, not hang.
    return env | {"AMPARO_DATA_DIR": str(data_dir), "AMPARO_TEMPORAL_ADDRESS": "127.0.0.1:9"} | more


def assert_one_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, result
    line = result.stderr.strip()
    assert line.startswith(f"error: {expected}"), line
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert KEY not in result.stderr + result.stdout


def test_a_malformed_master_keys_variable_stops_the_stack_with_one_line(tmp_path: Path) -> None:
    short = json.dumps({"current": "k1", "keys": {"k1": KEY[:-4]}})
    for value, problem in (("{nope", "not valid JSON"), (short, "key 'k1' must be 64 hex")):
        env = without_keys(tmp_path, AMPARO_MASTER_KEYS=value)
        for command in (["worker"], ["api"], ["dev", "--data-dir", str(tmp_path)]):
            assert_one_line(amparo(env, *command), f"AMPARO_MASTER_KEYS: {problem}")


def test_a_missing_key_file_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    result = amparo(without_keys(tmp_path), "worker")
    path = tmp_path / "keys" / "master.json"
    assert_one_line(result, f"no master key: set AMPARO_MASTER_KEYS or restore {path}")
    assert not path.exists()  # only `amparo dev` creates it


def test_keys_show_and_rotate_name_keys_never_their_values(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    (keys / "master.json").write_text(json.dumps({"current": "k1", "keys": {"k1": KEY}}))
    env = without_keys(tmp_path)
    rotated = amparo(env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_id = rotated.stdout.strip()
    assert new_id.startswith("k2") and len(new_id) == len("kyyyymmddHHMMSS")
    shown = amparo(env, "keys", "show")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[1:] == ["  k1", f"  {new_id}  (current)"]
    stored = json.loads((keys / "master.json").read_text())
    assert stored["keys"]["k1"] == KEY and stored["current"] == new_id
    for text in (rotated.stdout, shown.stdout):
        assert all(value not in text for value in stored["keys"].values())

    from_env = without_keys(tmp_path, AMPARO_MASTER_KEYS=json.dumps(stored))
    assert_one_line(amparo(from_env, "keys", "rotate"), "the master keys come from AMPARO_MAST")

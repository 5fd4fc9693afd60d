"""Reading a live database's files for the plaintext scans."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path


def contents(paths: Iterable[Path]) -> bytes:
    """What the files hold now, in order. The server is still running, so a rollback
    journal listed a moment ago may be gone (its transaction committed): it holds nothing."""
    found = b""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            found += path.read_bytes()
    return found

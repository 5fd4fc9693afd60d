"""The institution registry, read from a TOML file (`AMPARO_INSTITUTIONS_FILE`).

```toml
[[institution]]
id = "hogar-oblatas"
name = "Hogar especializado ..."
steps = ["shelter"]
channel = { kind = "inbox" }
shares = ["given_name", "family_name"]   # optional; default domain.institutions.DEFAULT_SHARED

[[institution]]
id = "gcps-reintegracion"
name = "..."
steps = ["return_reintegration"]
channel = { kind = "webhook", url = "https://...", secret_env = "GCPS_SECRET", timeout_seconds = 5 }
```

A webhook's secret is `secret = "..."` or, better outside a demo, `secret_env = "VAR"`:
read from the environment when the file is loaded. Any wrong entry fails the start with
`RegistryError`, one line naming the file, the institution and the field (never a value:
it could be a secret).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from amparo.settings import Settings, SettingsError
from domain.institutions import Institution, Registry
from domain.vocabulary import Channel

# Shipped with the package: the Dominican institutions the demo cases are referred to.
DEMO_REGISTRY = Path(__file__).with_name("institutions.toml")
SECRET_ENV = "secret_env"  # noqa: S105 (the key that names the variable, not a secret)


class RegistryError(SettingsError):
    """A wrong institution registry: one line, `<file>: institution <n> (<id>): <field>: why`."""


class _EntryError(Exception):
    """A wrong field of one entry, before the file and the institution are named."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def load_registry(path: Path, *, environ: Mapping[str, str] = os.environ) -> Registry:
    """The registry in the TOML file at `path`; `RegistryError` on any wrong entry."""
    entries = _entries(path, _read(path))
    seen: dict[str, int] = {}
    institutions = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: institution {number}{_label(entry)}"
        try:
            institution = _institution(entry, environ)
        except _EntryError as error:
            raise RegistryError(f"{where}: {error}") from None
        if institution.id in seen:
            raise RegistryError(f"{where}: id: already used by institution {seen[institution.id]}")
        seen[institution.id] = number
        institutions.append(institution)
    return Registry(institutions=tuple(institutions))


def registry_for(settings: Settings) -> Registry:
    """The configured registry, or the demo one when `AMPARO_INSTITUTIONS_FILE` is unset;
    read once per file (a changed file takes effect on restart)."""
    return _cached(settings.institutions_file or DEMO_REGISTRY)


@lru_cache(maxsize=8)
def _cached(path: Path) -> Registry:
    return load_registry(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise RegistryError(f"{path}: cannot read the file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise RegistryError(f"{path}: not valid TOML: {error}") from None


def _entries(path: Path, document: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = sorted(set(document) - {"institution"})
    if unknown:
        raise RegistryError(f"{path}: {unknown[0]}: unknown key (expected [[institution]])")
    entries = document.get("institution")
    if not isinstance(entries, list) or not entries:
        raise RegistryError(f"{path}: no [[institution]] entries")
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise RegistryError(f"{path}: institution {number}: must be a table")
    return entries


def _label(entry: dict[str, Any]) -> str:
    """` (<id>)` when the entry has a usable id, so the message names it."""
    value = entry.get("id")
    return f" ({value})" if isinstance(value, str) and value.isprintable() and value else ""


def _institution(entry: dict[str, Any], environ: Mapping[str, str]) -> Institution:
    channel = entry.get("channel")
    if isinstance(channel, dict) and channel.get("kind") == Channel.WEBHOOK:
        entry = {**entry, "channel": _with_secret(channel, environ)}
    try:
        return Institution.model_validate(entry)
    except ValidationError as error:
        first = error.errors()[0]
        raise _EntryError(_field(first["loc"]), _one_line(first["msg"])) from None


def _with_secret(channel: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The webhook channel with `secret_env` replaced by the secret it names."""
    if SECRET_ENV not in channel:
        return channel
    name = channel[SECRET_ENV]
    if "secret" in channel:
        raise _EntryError("channel", "give secret or secret_env, not both")
    if not isinstance(name, str) or not name:
        raise _EntryError(f"channel.{SECRET_ENV}", "must name an environment variable")
    secret = environ.get(name)
    if not secret:
        raise _EntryError(f"channel.{SECRET_ENV}", f"environment variable {name} is not set")
    rest = {key: value for key, value in channel.items() if key != SECRET_ENV}
    return {**rest, "secret": secret}


def _field(loc: tuple[int | str, ...]) -> str:
    """`channel.url`, `steps[1]`: the location pydantic reports, without the union's tag
    (`channel.webhook.url`), which names the kind rather than a field of the file."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "channel" and parts[1] in set(Channel):
        del parts[1]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "entry"


def _one_line(message: str) -> str:
    return " ".join(message.split())

"""`amparo keys`: the master keys' ids and their rotation (never a key's value)."""

from __future__ import annotations

import typer

from amparo.cli.common import settings, user_errors

app = typer.Typer(help="The master keys that encrypt what Temporal stores.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """List the master keys' ids, oldest first, marking the current one."""
    from amparo.keyring import VARIABLE, key_file, master_keyring

    current = settings()
    with user_errors():
        ring = master_keyring(current)
    source = VARIABLE if current.master_keys else str(key_file(current))
    typer.echo(f"master keys from {source}:")
    for key_id in sorted(ring.keys):
        typer.echo(f"  {key_id}{'  (current)' if key_id == ring.current_id else ''}")


@app.command("rotate")
def rotate() -> None:
    """Add a new master key and make it current; the old ones stay to read older data.

    Restart the worker and the API afterwards: they encrypt with the key current when they
    started (and read with every key they loaded).
    """
    from amparo.keyring import rotate as rotate_keys

    current = settings()
    with user_errors():
        key_id = rotate_keys(current)
    typer.echo(key_id)
    typer.echo("then `amparo keys rewrap` wraps the people's data keys with it", err=True)


@app.command("rewrap")
def rewrap() -> None:
    """Wrap every person's data key with the current master key (done by `rotate`; run it
    after changing `AMPARO_MASTER_KEYS`). Old master keys can then be retired."""
    from amparo.wiring import data_keys
    from store.db import make_engine

    current = settings()
    with user_errors():
        count = data_keys(make_engine(current.effective_database_url), current).rewrap()
    typer.echo(f"{count} data keys wrapped with the current master key", err=True)

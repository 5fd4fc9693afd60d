"""Plain aligned tables for terminal output (no colour, so they pipe cleanly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import typer


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` under `headers`, columns padded to their widest cell."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for line in [headers, [("-" * w) for w in widths], *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    if not rows:
        typer.echo("(none)")


def print_page(
    headers: Sequence[str], rows: Sequence[Sequence[str]], page: Mapping[str, Any], limit: int
) -> None:
    """`print_table`, then a note on stderr when the API has more than the page shown."""
    print_table(headers, rows)
    if page.get("next_cursor"):
        typer.echo(f"(first {limit} shown)", err=True)

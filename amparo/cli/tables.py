"""Plain aligned tables for terminal output (no colour, so they pipe cleanly)."""

from __future__ import annotations

from collections.abc import Sequence

import typer


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` under `headers`, columns padded to their widest cell."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for line in [headers, [("-" * w) for w in widths], *rows]:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    if not rows:
        typer.echo("(none)")

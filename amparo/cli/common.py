"""What every CLI command shares: settings, one-line errors, running async work."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from amparo.keys import KeyMaterialError
from amparo.logging import configure_logging
from amparo.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from temporalio.client import Client

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """One line on stderr and a non-zero exit: never a stack trace."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one clear line."""
    from amparo.cases import CommandPending, CommandRefused

    try:
        yield
    except CommandRefused as refused:
        fail(f"{refused.code}: {refused.detail}")
    except CommandPending as pending:
        fail(f"command_pending: {pending}; run the command again to see its outcome")
    except (SettingsError, KeyMaterialError) as error:
        fail(str(error))
    except RuntimeError as error:
        if not str(error).startswith("Failed client connect"):
            raise
        fail(f"temporal_unreachable: {str(error).splitlines()[0][:200]}")


def settings() -> Settings:
    """The settings, and the institution registry they name, both checked at start."""
    from amparo.institutions import registry_for

    with user_errors():
        current = get_settings()
        registry_for(current)
    configure_logging(current.log_level, current.log_format)
    return current


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run async work from a synchronous Typer command, with user errors on one line."""
    with user_errors():
        return asyncio.run(coro)


async def temporal_client(current: Settings) -> Client:
    from amparo.temporal import connect

    try:
        return await connect(current)
    except KeyMaterialError:
        raise  # its own line, from user_errors()
    except RuntimeError as error:
        fail(
            f"cannot reach Temporal at {current.temporal_address} "
            f"(is `amparo dev` running?): {str(error).splitlines()[0]}"
        )

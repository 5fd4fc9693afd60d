"""How every Amparo process talks to Temporal: one data converter, one way to connect."""

from __future__ import annotations

import asyncio
import time

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from amparo.settings import Settings

log = structlog.get_logger(__name__)


def data_converter() -> DataConverter:
    """Pydantic models on the wire (the payload codec joins here when payloads are encrypted)."""
    return pydantic_data_converter


async def connect(settings: Settings, *, retry_for: float = 0.0) -> Client:
    """A client for the configured namespace; retries while Temporal is not up yet.

    A worker may start before Temporal (containers, a restarting dev server): it waits
    `retry_for` seconds with backoff instead of dying on the first refused connection.
    """
    deadline = time.monotonic() + retry_for
    delay = 0.2
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter(),
            )
        except RuntimeError as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("temporal not reachable yet", address=settings.temporal_address,
                        error=str(error).splitlines()[0][:200])  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

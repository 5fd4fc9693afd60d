"""How every Amparo process talks to Temporal: one data converter, one way to connect."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from amparo.settings import Settings


def data_converter() -> DataConverter:
    """Pydantic models on the wire (the payload codec joins here when payloads are encrypted)."""
    return pydantic_data_converter


async def connect(settings: Settings) -> Client:
    """A client for the configured Temporal namespace."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
    )

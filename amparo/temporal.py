"""How every Amparo process talks to Temporal: one data converter, one way to connect."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from amparo.keyring import Keyring, master_keyring
from amparo.settings import Settings

log = structlog.get_logger(__name__)


def data_converter(keyring: Keyring | None = None) -> DataConverter:
    """Pydantic models on the wire; with a `keyring`, every payload encrypted (`amparo.codec`).

    Encrypted, failure messages and stack traces travel as an encoded payload too: a
    refusal's detail may name what it refuses, and Temporal keeps failures in its history.
    Without a keyring (tests that build their own client): plain JSON, as before.
    """
    if keyring is None:
        return pydantic_data_converter
    from amparo.codec import EncryptionCodec

    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, *, retry_for: float = 0.0) -> Client:
    """A client for the configured namespace, encrypting with the master keyring; retries
    while Temporal is not up yet (a missing or malformed key fails at once: KeyMaterialError).

    A worker may start before Temporal (containers, a restarting dev server): it waits
    `retry_for` seconds with backoff instead of dying on the first refused connection.
    """
    converter = data_converter(master_keyring(settings))
    deadline = time.monotonic() + retry_for
    delay = 0.2
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=converter,
            )
        except RuntimeError as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("temporal not reachable yet", address=settings.temporal_address,
                        error=str(error).splitlines()[0][:200])  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

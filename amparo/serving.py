"""Serving the API with uvicorn inside a process that owns its own signal handling."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to its host (`amparo dev`, `amparo api`)."""

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """Start with `serve()` (a task), stop with `stop()`: in-flight requests finish first."""

    def __init__(self, app: FastAPI, *, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
        self._server = _EmbeddedServer(config)

    async def serve(self) -> None:
        await self._server.serve()

    @property
    def started(self) -> bool:
        return self._server.started

    async def wait_started(self, serving: asyncio.Task[None]) -> None:
        """Return once the socket listens; raise if the server gave up (port taken…)."""
        while not self._server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the API server stopped before it started")
            await asyncio.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True

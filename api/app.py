"""The API's composition root: services built once, routers under `/api/v1`, problems for errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from amparo.cases import CaseCommands
from amparo.institutions import registry_for
from amparo.keyring import master_keyring
from amparo.settings import Settings, get_settings
from amparo.temporal import connect
from amparo.users import UserDirectory
from amparo.wiring import event_store, person_index
from api import problems
from api.deps import Services
from api.limits import BodyLimit
from api.routers import (
    access_log,
    auth,
    cases,
    codec,
    erasure,
    health,
    notifications,
    proceedings,
    referrals,
    reports,
    supervision,
    visas,
)
from store.access_log import AccessLog
from store.db import make_engine
from store.notifications import Inbox
from store.read_models import CaseReads

PREFIX = "/api/v1"


async def build_services(settings: Settings) -> Services:
    """Connect to Temporal and the database, once per process."""
    engine = make_engine(settings.effective_database_url)
    client = await connect(settings)
    store = event_store(engine, settings)
    return Services(
        settings=settings,
        temporal=client,
        commands=CaseCommands.from_settings(client, settings),
        reads=CaseReads(engine, store, person_index(settings)),
        users=UserDirectory(engine),
        inbox=Inbox(engine),
        registry=registry_for(settings),
        access_log=AccessLog(engine),
        keyring=master_keyring(settings),
        store=store,
    )


def create_app(services: Services | None = None) -> FastAPI:
    """The FastAPI app; without `services`, they are built from settings at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is None:
            app.state.services = await build_services(get_settings())
        yield

    app = FastAPI(
        title="Amparo",
        version="0.1.0",
        summary="Durable protection paths for survivors of trafficking and smuggled migrants.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    problems.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(codec.CodecCors, prefix=PREFIX)
    routers = (
        auth.router,
        cases.router,
        visas.router,
        health.router,
        supervision.router,
        notifications.router,
        referrals.router,
        erasure.router,
        access_log.router,
        codec.router,
        proceedings.router,
        reports.router,
    )
    for router in routers:
        app.include_router(router, prefix=PREFIX)
    return app

"""Liveness and readiness: no token needed, no personal data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: Temporal and the database both answer."""
    checks = {"temporal": await _temporal(services), "database": await _database(services)}
    ready = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _temporal(services: ServicesDep) -> str:
    try:
        await services.temporal.service_client.check_health()
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"


async def _database(services: ServicesDep) -> str:
    def ping() -> None:
        with services.reads.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    return "ok"

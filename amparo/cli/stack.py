"""Running Amparo: `dev`, `worker`, `db upgrade`, `projections rebuild`, `demo load`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from amparo.cli.common import fail, run, settings, temporal_client, user_errors
from amparo.settings import Settings, get_settings

# The stack's modules (Temporal, FastAPI, SQLAlchemy…) load inside the commands that need
# them, so `amparo --help` and the everyday API commands start in a fraction of a second.
if TYPE_CHECKING:
    from amparo.devstack import DevServerConfig
    from amparo.users import UserDirectory

db_app = typer.Typer(help="The Amparo database.", no_args_is_help=True)
projections_app = typer.Typer(help="Read models built from the events.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)


def _stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM, so shutdown runs our own clean-up path."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def dev(
    data_dir: Annotated[Path, typer.Option(help="where the stack keeps its files")] = Path(
        ".amparo"
    ),
    api_port: Annotated[int, typer.Option(help="HTTP API port")] = 8000,
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal web UI port")] = 8233,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo cases")] = False,
) -> None:
    """Run the embedded stack (Temporal dev server, worker) until Ctrl-C; data persists."""
    from amparo.devstack import DevServerConfig, DevStackError, port_in_use

    os.environ["AMPARO_DATA_DIR"] = str(data_dir)
    os.environ["AMPARO_TEMPORAL_ADDRESS"] = f"127.0.0.1:{temporal_port}"
    # The UI's browser asks the API to decode payloads: let this stack's UI origin in.
    ui_origins = [f"http://localhost:{ui_port}", f"http://127.0.0.1:{ui_port}"]
    os.environ.setdefault("AMPARO_CODEC_CORS_ORIGINS", json.dumps(ui_origins))
    get_settings.cache_clear()
    current = settings()
    _master_key(current)
    codec = f"http://localhost:{api_port}/api/v1/codec"
    config = DevServerConfig(
        data_dir=data_dir,
        port=temporal_port,
        ui_port=ui_port,
        extra_args=("--ui-codec-endpoint", codec),
    )
    if port_in_use("127.0.0.1", api_port):
        fail(f"port {api_port} is already in use: stop what uses it or pass --api-port")
    try:
        run(_dev(current, config, demo=demo, api_port=api_port))
    except DevStackError as error:
        fail(str(error))


def _master_key(current: Settings) -> None:
    """The first start makes the master key (the key file, unless AMPARO_MASTER_KEYS);
    a malformed one stops the stack with one line."""
    from amparo.keyring import key_file, master_keyring

    created = not current.master_keys and not key_file(current).exists()
    with user_errors():
        master_keyring(current, create=True)
    if created:
        typer.echo(f"created the master key {key_file(current)}: back it up with the database")


async def _dev(current: Settings, config: DevServerConfig, *, demo: bool, api_port: int) -> None:
    from amparo.devstack import DevServer
    from amparo.serving import ApiServer
    from api.app import build_services, create_app
    from store.migrate import upgrade
    from worker import run_worker

    stop = _stop_on_signals()
    server = DevServer(config)
    typer.echo(f"starting Temporal dev server (log: {config.log_file}) ...")
    await server.start()
    worker: asyncio.Task[None] | None = None
    try:
        upgrade(current.effective_database_url)
        worker = asyncio.create_task(run_worker(current, stop))
        services = await build_services(current)
        if demo:
            await _load_demo(current, services.users)
        api = ApiServer(create_app(services), host="127.0.0.1", port=api_port)
        serving = asyncio.create_task(api.serve())
        await api.wait_started(serving)
        _banner(current, config, api_port, demo)
        await stop.wait()
        typer.echo("stopping ...")
        api.stop()
        await serving
    finally:
        # The worker goes first, while Temporal can still take its last answers.
        stop.set()
        if worker is not None:
            await asyncio.wait_for(worker, timeout=30)
        await server.stop()
    typer.echo("stopped; everything is kept in " + str(current.data_dir))


def _banner(current: Settings, config: DevServerConfig, api_port: int, demo: bool) -> None:
    from amparo.demo_users import DEMO_USERS

    if demo:
        typer.echo("\nDemo users (demo data only; password after the name):")
        for name, role, institution, password in DEMO_USERS:
            typer.echo(f"  {name:<16} {password:<26} {role:<11} {institution or ''}")
        typer.echo(
            "Institutions (e.g. hermana.lucia, the shelter) see and answer their referrals:\n"
            "  .venv/bin/amparo login hermana.lucia, then .venv/bin/amparo referral list and\n"
            "  .venv/bin/amparo referral answer <referral_id> accepted|declined|completed\n"
            f"  or GET /referrals, POST /referrals/{{id}}/answer at http://localhost:{api_port}"
            "/api/v1/docs"
        )
        typer.echo(
            "The half-year report (the seed's January-June 2017 table), as the analyst:\n"
            "  .venv/bin/amparo login analista   (password amparo-demo-analista), then\n"
            "  .venv/bin/amparo report statistics --from 2017-01-01 --to 2017-06-30 "
            "--format html -o report.html\n"
            f"  or GET http://localhost:{api_port}/api/v1/reports/statistics"
            "?from=2017-01-01&to=2017-06-30&format=html (bearer token; try it in the docs)"
        )
    typer.echo(
        "\nAmparo is running.\n"
        f"  API             http://localhost:{api_port}/api/v1  "
        f"(docs: http://localhost:{api_port}/api/v1/docs)\n"
        f"  Temporal UI     http://localhost:{config.ui_port}\n"
        f"  Temporal gRPC   {config.address}\n"
        f"  database        {current.effective_database_url}\n"
        "  try             .venv/bin/amparo case list   (in another terminal)\n"
        "Ctrl-C stops everything; `make run` again resumes every open case.\n"
    )


async def _load_demo(current: Settings, users: UserDirectory) -> None:
    from amparo.cases import CaseCommands
    from amparo.demo import build_plans, half_year_victims, load_demo
    from amparo.demo_proceedings import load_proceedings
    from amparo.demo_users import ensure_demo_users
    from amparo.proceedings import ProceedingCommands
    from store.db import make_engine
    from store.proceedings import ProceedingStore
    from store.read_models import CaseReads

    ensure_demo_users(users)
    client = await temporal_client(current)
    commands = CaseCommands.from_settings(client, current)
    reads = CaseReads(make_engine(current.effective_database_url))
    typer.echo("loading demo cases ...")
    summary = await load_demo(commands, lambda case_id: reads.get(case_id) is not None)
    typer.echo(f"demo: {summary.opened} cases loaded, {summary.skipped} already there")
    engine = make_engine(current.effective_database_url)
    proceedings = ProceedingCommands(ProceedingStore(engine))
    victims = half_year_victims(build_plans(datetime.now(UTC)))
    loaded, skipped = load_proceedings(proceedings, victims, datetime.now(UTC))
    typer.echo(f"demo: {loaded} criminal proceedings loaded, {skipped} already there")


def api(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the HTTP API against the configured Temporal and database until SIGTERM."""
    from amparo.serving import ApiServer
    from api.app import build_services, create_app

    current = settings()

    async def go() -> None:
        stop = _stop_on_signals()
        server = ApiServer(create_app(await build_services(current)), host=host, port=port)
        serving = asyncio.create_task(server.serve())
        await stop.wait()
        server.stop()
        await serving

    run(go())


def worker() -> None:
    """Run a worker against the configured Temporal and database until SIGTERM."""
    from worker import run_worker

    current = settings()

    async def go() -> None:
        await run_worker(current, _stop_on_signals())

    run(go())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema (Alembic) to the current version."""
    from store.migrate import upgrade

    current = settings()
    upgrade(current.effective_database_url)
    typer.echo("database is up to date")


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Rebuild every projection from the events (the events are never touched)."""
    from amparo.wiring import data_keys, person_index
    from store.db import make_engine
    from store.person_index import PersonIndexProjector
    from store.proceedings import rebuild as rebuild_proceedings
    from store.projections import CaseProjector
    from store.referrals import ReferralProjector
    from store.victim_statistics import VictimStatisticsProjector
    from store.visas import VisaProjector

    current = settings()
    engine = make_engine(current.effective_database_url)
    keys = data_keys(engine, current)
    with typer.progressbar(length=0, label="events") as bar:
        count = CaseProjector(keys=keys).rebuild(engine, progress=bar.update)
    PersonIndexProjector(person_index(current)).rebuild(engine, keys)
    VisaProjector().rebuild(engine, keys=keys)
    ReferralProjector().rebuild(engine, keys=keys)
    VictimStatisticsProjector().rebuild(engine, keys=keys)
    rebuild_proceedings(engine)
    typer.echo(f"rebuilt from {count} events")


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo half-year into the running stack (skips cases already loaded)."""
    from amparo.users import UserDirectory
    from store.db import make_engine

    current = settings()
    users = UserDirectory(make_engine(current.effective_database_url))
    run(_load_demo(current, users))

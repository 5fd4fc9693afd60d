"""docker-compose.yml, Dockerfile and .dockerignore fit together.

There is no Docker engine here, so the files are parsed, not run: every
dependency names a real service with a usable condition, every `AMPARO_*`
variable is a real setting pointing at the right service, the Temporal
search attributes are exactly the workflows', and the image contains every
package the wheel is built from.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from amparo.settings import Settings
from workflows.search_attributes import ALL

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"

TEMPORAL_GRPC_PORT = 7233
POSTGRES_PORT = 5432
UI_CONTAINER_PORT = 8080
UI_HOST_PORT = 8233
API_PORT = 8000
DEPENDS_ON_CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}


# --- compose helpers ---------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict)
    assert found
    return found


def _env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) for item in raw)
        return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def _argv(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(part) for part in value]


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Dependency name -> condition (the short list form means service_started)."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def _build_context(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return build
    return str(build.get("context", "."))


def _one(services: dict[str, dict[str, Any]], image_prefix: str) -> str:
    names = [
        name
        for name, service in services.items()
        if str(service.get("image", "")).startswith(image_prefix)
    ]
    assert len(names) == 1, f"expected exactly one service from {image_prefix}, found {names}"
    return names[0]


def _by_command(services: dict[str, dict[str, Any]], argv: list[str]) -> str:
    names = [
        name
        for name, service in services.items()
        if _argv(service.get("command"))[: len(argv)] == argv
    ]
    assert len(names) == 1, f"expected exactly one service running {argv}, found {names}"
    return names[0]


def _ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) for every published port."""
    published: list[tuple[int, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                published.append((int(entry["published"]), int(entry["target"])))
            continue
        spec = str(entry).split("/", 1)[0]
        parts = spec.split(":")
        if len(parts) == 1:
            continue  # container port only: the host port is ephemeral
        published.append((int(parts[-2]), int(parts[-1])))
    return published


def _script(service: dict[str, Any]) -> str:
    return "\n".join(_argv(service.get("entrypoint")) + _argv(service.get("command")))


def _registered_search_attributes(service: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(namespace, name, type, address) of each `search-attribute create` in the script."""
    registered: list[tuple[str, str, str, str]] = []
    for line in _script(service).splitlines():
        if "search-attribute create" not in line:
            continue
        tokens = shlex.split(line.split("||", 1)[0])
        flags = {
            tokens[i]: tokens[i + 1] for i in range(len(tokens) - 1) if tokens[i].startswith("--")
        }
        registered.append(
            (
                flags.get("--namespace", ""),
                flags.get("--name", ""),
                flags.get("--type", ""),
                flags.get("--address", ""),
            )
        )
    return registered


def _cli_type(key: Any) -> str:
    """`INDEXED_VALUE_TYPE_KEYWORD_LIST` -> `KeywordList`, as the Temporal CLI spells it."""
    name = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


# --- compose -----------------------------------------------------------------


def test_compose_spec_has_no_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose


def test_depends_on_names_existing_services_with_usable_conditions(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for dependency, condition in _depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert dependency != name
            assert condition in DEPENDS_ON_CONDITIONS, f"{name} -> {dependency}: {condition}"
            target = services[dependency]
            if condition == "service_healthy":
                healthcheck = target.get("healthcheck")
                assert healthcheck, f"{name} waits for {dependency} healthy, it has no healthcheck"
                assert not healthcheck.get("disable", False)
                assert healthcheck.get("test")
            if condition == "service_completed_successfully":
                # `restart: no` unquoted is YAML false: only the string "no" is valid compose.
                assert target.get("restart", "no") == "no", (
                    f"{name} waits for {dependency} to complete, but it restarts"
                )


def test_depends_on_has_no_cycle(services: dict[str, dict[str, Any]]) -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for dependency in _depends_on(services[name]):
            visit(dependency, (*path, name))
        done.add(name)

    for name in services:
        visit(name, ())


def test_amparo_services_share_the_repo_image(services: dict[str, dict[str, Any]]) -> None:
    worker = _by_command(services, ["amparo", "worker"])
    api = _by_command(services, ["amparo", "api"])
    migrate = _by_command(services, ["amparo", "db", "upgrade"])
    for name in (worker, api, migrate):
        context = _build_context(services[name])
        assert context is not None, f"{name} is not built from the repository"
        assert (ROOT / context).resolve() == ROOT
        build = services[name]["build"]
        if isinstance(build, dict) and "dockerfile" in build:
            assert build["dockerfile"] == "Dockerfile"
    assert (ROOT / "Dockerfile").is_file()
    images = {services[name].get("image") for name in (worker, api, migrate)}
    assert len(images) == 1, f"worker, api and migrate should be one image, got {images}"


def test_migrate_is_a_one_shot_after_postgres(services: dict[str, dict[str, Any]]) -> None:
    migrate = services[_by_command(services, ["amparo", "db", "upgrade"])]
    postgres = _one(services, "postgres:")
    assert migrate.get("restart", "no") == "no"
    assert _depends_on(migrate).get(postgres) == "service_healthy"


def test_worker_and_api_start_after_database_migrations_and_search_attributes(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = _one(services, "postgres:")
    setup = _one(services, "temporalio/admin-tools:")
    migrate = _by_command(services, ["amparo", "db", "upgrade"])
    for argv in (["amparo", "worker"], ["amparo", "api"]):
        depends = _depends_on(services[_by_command(services, argv)])
        assert depends.get(postgres) == "service_healthy", argv
        assert depends.get(migrate) == "service_completed_successfully", argv
        assert depends.get(setup) == "service_completed_successfully", argv


def test_one_shot_temporal_setup_waits_for_a_healthy_temporal(
    services: dict[str, dict[str, Any]],
) -> None:
    temporal = _one(services, "temporalio/auto-setup:")
    setup = services[_one(services, "temporalio/admin-tools:")]
    assert setup.get("restart", "no") == "no"
    assert _depends_on(setup).get(temporal) == "service_healthy"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if _build_context(service) is not None:
            continue
        image = str(service.get("image", ""))
        assert ":" in image, f"{name}: {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: {image} is not pinned"
    assert services[_one(services, "postgres:")]["image"] == "postgres:16"


def test_amparo_env_vars_are_real_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = set(Settings.model_fields)
    checked = 0
    for name, service in services.items():
        amparo = {key: value for key, value in _env(service).items() if key.startswith("AMPARO_")}
        for key in amparo:
            field = key.removeprefix("AMPARO_").lower()
            assert field in fields, f"{name}: {key} is not a field of amparo.settings.Settings"
        if not amparo:
            continue
        with monkeypatch.context() as patch:
            for key in list(os.environ):
                if key.startswith("AMPARO_"):
                    patch.delenv(key)
            for key, value in amparo.items():
                patch.setenv(key, value)
            settings = Settings()  # a wrong value fails validation here
        assert settings.log_format == "json", name
        checked += 1
    assert checked >= 3  # migrate, worker, api


def test_temporal_address_is_the_temporal_service(services: dict[str, dict[str, Any]]) -> None:
    temporal = _one(services, "temporalio/auto-setup:")
    expected = f"{temporal}:{TEMPORAL_GRPC_PORT}"
    for name, service in services.items():
        env = _env(service)
        if "AMPARO_TEMPORAL_ADDRESS" in env:
            assert env["AMPARO_TEMPORAL_ADDRESS"] == expected, name
    ui = services[_one(services, "temporalio/ui:")]
    assert _env(ui).get("TEMPORAL_ADDRESS") == expected
    setup = services[_one(services, "temporalio/admin-tools:")]
    addresses = re.findall(r"--address[ =](\S+)", _script(setup))
    assert addresses
    assert set(addresses) == {expected}
    # auto-setup binds the frontend to the container's address, not localhost.
    probe = " ".join(_argv(services[temporal]["healthcheck"]["test"]))
    assert set(re.findall(r"--address[ =](\S+)", probe)) == {expected}


def test_database_url_points_at_the_postgres_service(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres_name = _one(services, "postgres:")
    postgres = _env(services[postgres_name])
    user = postgres["POSTGRES_USER"]
    password = postgres["POSTGRES_PASSWORD"]
    database = postgres.get("POSTGRES_DB", user)
    urls = {
        name: _env(service)["AMPARO_DATABASE_URL"]
        for name, service in services.items()
        if "AMPARO_DATABASE_URL" in _env(service)
    }
    assert len(urls) >= 3
    for name, raw in urls.items():
        url = make_url(raw)
        assert url.drivername == "postgresql+psycopg", name
        assert url.host == postgres_name, name
        assert (url.port or POSTGRES_PORT) == POSTGRES_PORT, name
        assert url.username == user, name
        assert url.password == password, name
        assert url.database == database, name


def test_temporal_persists_in_the_postgres_service(services: dict[str, dict[str, Any]]) -> None:
    postgres_name = _one(services, "postgres:")
    postgres = _env(services[postgres_name])
    temporal = _env(services[_one(services, "temporalio/auto-setup:")])
    assert temporal["DB"] == "postgres12"
    assert int(temporal.get("DB_PORT", POSTGRES_PORT)) == POSTGRES_PORT
    assert temporal["POSTGRES_SEEDS"] == postgres_name
    assert temporal["POSTGRES_USER"] == postgres["POSTGRES_USER"]
    assert temporal["POSTGRES_PWD"] == postgres["POSTGRES_PASSWORD"]


def test_host_ports_do_not_collide(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[int, str] = {}
    for name, service in services.items():
        for host, _container in _ports(service):
            assert host not in seen, f"host port {host} used by {seen[host]} and {name}"
            seen[host] = name


def test_ui_is_on_host_port_8233(services: dict[str, dict[str, Any]]) -> None:
    ui = services[_one(services, "temporalio/ui:")]
    assert (UI_HOST_PORT, UI_CONTAINER_PORT) in _ports(ui)


def test_api_publishes_8000_and_checks_its_health_endpoint(
    services: dict[str, dict[str, Any]],
) -> None:
    api = services[_by_command(services, ["amparo", "api"])]
    assert (API_PORT, API_PORT) in _ports(api)
    probe = " ".join(_argv(api["healthcheck"]["test"]))
    assert "urllib" in probe
    assert f":{API_PORT}/api/v1/healthz" in probe


def test_postgres_and_temporal_have_health_checks(services: dict[str, dict[str, Any]]) -> None:
    postgres = " ".join(_argv(services[_one(services, "postgres:")]["healthcheck"]["test"]))
    assert "pg_isready" in postgres
    temporal = " ".join(
        _argv(services[_one(services, "temporalio/auto-setup:")]["healthcheck"]["test"])
    )
    assert "cluster health" in temporal


def test_registered_search_attributes_are_exactly_the_workflows(
    services: dict[str, dict[str, Any]],
) -> None:
    setup = services[_one(services, "temporalio/admin-tools:")]
    registered = _registered_search_attributes(setup)
    names = [name for _ns, name, _type, _address in registered]
    assert len(names) == len(set(names)), f"registered twice: {names}"
    expected = {(key.name, _cli_type(key)) for key in ALL}
    assert {(name, kind) for _ns, name, kind, _address in registered} == expected

    namespaces = {namespace for namespace, _name, _type, _address in registered}
    amparo_namespaces = {
        _env(service)["AMPARO_TEMPORAL_NAMESPACE"]
        for service in services.values()
        if "AMPARO_TEMPORAL_NAMESPACE" in _env(service)
    }
    assert len(namespaces) == 1
    assert namespaces == amparo_namespaces
    temporal = _env(services[_one(services, "temporalio/auto-setup:")])
    assert temporal.get("DEFAULT_NAMESPACE", "default") in namespaces


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in compose["services"].items():
        for entry in service.get("volumes") or []:
            if isinstance(entry, dict):
                if entry.get("type") == "volume" and entry.get("source"):
                    used.add(entry["source"])
                continue
            parts = str(entry).split(":")
            if len(parts) < 2:
                continue  # anonymous volume
            source = parts[0]
            if not source.startswith(("/", ".", "~", "$")):
                used.add(source)
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert used <= declared
    postgres = compose["services"][_one(compose["services"], "postgres:")]
    data = [
        v for v in postgres.get("volumes") or [] if str(v).endswith(":/var/lib/postgresql/data")
    ]
    assert data, "postgres data is not persisted"
    assert str(data[0]).split(":")[0] in declared


# --- Dockerfile --------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    if current:
        joined.append(current)
    result = []
    for line in joined:
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def _copied_from_context() -> set[str]:
    copied: set[str] = set()
    for keyword, arguments in _instructions():
        if keyword not in {"COPY", "ADD"}:
            continue
        tokens = shlex.split(arguments)
        if any(token.startswith("--from") for token in tokens):
            continue
        parts = [token for token in tokens if not token.startswith("--")]
        copied.update(part.rstrip("/") for part in parts[:-1])
    return copied


def _wheel_config() -> dict[str, Any]:
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]


def test_dockerfile_copies_everything_the_wheel_is_built_from() -> None:
    wheel = _wheel_config()
    needed = {*wheel["packages"], *wheel.get("only-include", []), "worker.py"}
    needed |= {"pyproject.toml", "README.md"}
    missing = needed - _copied_from_context()
    assert not missing, f"Dockerfile does not COPY {sorted(missing)}"


def test_dockerfile_installs_without_embedded_or_test_extras() -> None:
    installs = [
        args for keyword, args in _instructions() if keyword == "RUN" and "pip install" in args
    ]
    assert installs
    assert any(re.search(r"pip install\b[^&|;]*\s\.(\s|$)", args) for args in installs)
    for args in installs:
        assert "embedded" not in args
        assert not re.search(r"\[[^\]]*\btest\b", args)
        assert "-e " not in args
        assert "--editable" not in args


def test_dockerfile_runs_the_api_as_non_root() -> None:
    instructions = _instructions()
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms
    assert froms[-1].split()[0] == "python:3.11-slim"
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    cmd = [args for keyword, args in instructions if keyword == "CMD"][-1]
    assert yaml.safe_load(cmd)[:4] == ["amparo", "api", "--host", "0.0.0.0"]
    assert any(
        keyword == "EXPOSE" and str(API_PORT) in args.split() for keyword, args in instructions
    )
    env = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert "AMPARO_LOG_FORMAT=json" in env


def test_dockerignore_keeps_secrets_out_and_sources_in() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    excluded = [p.rstrip("/") for p in patterns if not p.startswith("!")]
    for must in (".git", ".venv", ".amparo"):
        assert must in excluded, f".dockerignore should exclude {must}"
    for source in _copied_from_context():
        for pattern in excluded:
            assert not fnmatch.fnmatch(source, pattern), f"{pattern} excludes copied {source}"


def test_api_listens_on_every_interface_inside_its_container(
    services: dict[str, dict[str, Any]],
) -> None:
    """127.0.0.1 inside a container cannot be reached through the published port."""
    argv = _argv(services[_by_command(services, ["amparo", "api"])]["command"])
    assert argv[argv.index("--host") + 1] == "0.0.0.0"

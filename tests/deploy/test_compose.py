"""``deploy/compose.yaml`` against the Compose specification's JSON schema
(the copy ``check-jsonschema`` vendors; no Docker engine on these machines)
and against how the gateway runs: the migration before the replicas, readiness
on ``/readyz``, stop grace beyond the gateway's own."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from gateway.db.session import create_engine
from gateway.settings import Settings
from tests.deploy.files import COMPOSE, DEPLOY, compose, configured, duration_seconds

SCHEMA = json.loads(
    files("check_jsonschema.builtin_schemas.vendor")
    .joinpath("compose-spec.json")
    .read_text()
)


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def gateway_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the project's image (migrate, gateway, worker)."""
    return {
        name: service
        for name, service in document["services"].items()
        if service.get("build", {}).get("dockerfile") == "Dockerfile"
    }


def test_compose_file_follows_the_compose_specification() -> None:
    assert schema_errors(compose()) == []


def test_the_schema_refuses_what_compose_would_refuse() -> None:
    """The check is not vacuous: a misspelt key fails it."""
    document = copy.deepcopy(compose())
    document["services"]["gateway"]["depend_on"] = ["migrate"]
    assert any("depend_on" in error for error in schema_errors(document))


def test_every_gateway_process_builds_from_the_project_dockerfile() -> None:
    services = gateway_services(compose())
    assert set(services) == {"migrate", "gateway", "worker"}
    for service in services.values():
        assert (COMPOSE.parent / service["build"]["context"] / "Dockerfile").is_file()
        assert service["environment"]["CG_ENV"] == "production"
        assert service["env_file"] == "gateway.env"


def test_replicas_start_after_the_migration_has_succeeded() -> None:
    services = compose()["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("gateway", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert services["gateway"]["deploy"]["replicas"] >= 2


def test_the_balancer_waits_for_ready_replicas() -> None:
    services = compose()["services"]
    probe = " ".join(services["gateway"]["healthcheck"]["test"])
    assert "/readyz" in probe
    assert services["nginx"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    mount = services["nginx"]["volumes"][0]
    assert mount == "./nginx.conf:/etc/nginx/nginx.conf:ro"
    assert (DEPLOY / "nginx.conf").is_file()
    # Processes without an HTTP server must not inherit the image's check.
    for name in ("migrate", "worker"):
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_stop_grace_outlasts_the_gateways_own() -> None:
    services = compose()["services"]
    gateway = configured(services["gateway"]["environment"])
    stop = duration_seconds(services["gateway"]["stop_grace_period"])
    assert stop > gateway.shutdown_grace_seconds
    worker = configured(services["worker"]["environment"])
    assert worker.jobs_shutdown_seconds is not None
    assert duration_seconds(services["worker"]["stop_grace_period"]) > (
        worker.jobs_shutdown_seconds
    )
    assert gateway.jobs_worker is False  # jobs in the worker service only


@pytest.mark.parametrize("name", ["migrate", "gateway", "worker"])
def test_no_secret_setting_is_written_in_the_compose_file(name: str) -> None:
    """Secrets come from gateway.env (not committed); the database password
    is interpolated from deploy/.env."""
    environment = compose()["services"][name]["environment"]
    for variable in environment:
        field = Settings.model_fields.get(variable.removeprefix("CG_").lower())
        if field is not None:
            assert "SecretStr" not in str(field.annotation), variable
    assert "${POSTGRES_PASSWORD" in environment["CG_DATABASE_URL"]


def test_postgres_admits_every_connection_the_fleet_may_open() -> None:
    """Each process's pools at their fullest, every process at once: the
    replicas' uvicorn workers, the job workers and the migration."""
    services = compose()["services"]
    engine = create_engine("postgresql+asyncpg://customer_graph@postgres/db")
    pool: Any = engine.sync_engine.pool
    sqlalchemy = pool.size() + pool._max_overflow
    processes = 1  # a migration run again (`compose up`) while the rest serve
    for name in ("gateway", "worker"):
        command = services[name]["command"]
        workers = 1
        if "--workers" in command:
            workers = int(command[command.index("--workers") + 1])
        processes += services[name]["deploy"]["replicas"] * workers
    per_process = (
        sqlalchemy + configured(services["gateway"]["environment"]).jobs_pool_size
    )
    command = services["postgres"]["command"]
    max_connections = int(command[command.index("-c") + 1].split("=")[1])
    reserved = 3  # superuser_reserved_connections
    assert processes * per_process <= max_connections - reserved

"""The deployment files stay true to the code they deploy: every ``CG_``
name they use is a setting, the probes ask routes the app serves, every
command line is one the CLI accepts, the port is the image's, and the
placeholders standing in for secrets are ones production refuses to start
with."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
from starlette.routing import Route

from gateway.app import create_app
from gateway.cli.main import app as cli
from gateway.settings import Settings
from tests.deploy.files import (
    COMPOSE,
    DEPLOY,
    NGINX,
    ROOT,
    base_resource,
    compose,
    kubernetes_files,
    manifests,
    setting_names,
)

DEPLOY_FILES = sorted(p for p in DEPLOY.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_cg_name_in_the_file_is_a_setting(path: Path) -> None:
    """Comments included: a misspelt name there is copied into a deployment."""
    unknown = {
        name
        for name in setting_names(path.read_text())
        if name.removeprefix("CG_").lower() not in Settings.model_fields
    }
    assert unknown == set()


def test_the_names_are_found_at_all() -> None:
    assert "CG_SHUTDOWN_GRACE_SECONDS" in setting_names(COMPOSE.read_text())


def command_lines() -> list[list[str]]:
    """The arguments each file gives ``customer-graph`` (the image's
    ENTRYPOINT)."""
    lines = [
        service["command"]
        for service in compose()["services"].values()
        if "build" in service
    ]
    for path in kubernetes_files():
        for resource in manifests(path):
            spec = resource.get("spec", {}).get("template", {}).get("spec", {})
            lines += [c["args"] for c in spec.get("containers", [])]
    return lines


def test_every_command_line_is_one_the_cli_accepts() -> None:
    lines = command_lines()
    assert ["db", "upgrade"] in lines
    assert ["worker"] in lines
    for line in lines:
        command: Any = typer.main.get_command(cli)
        words = list(line)
        while hasattr(command, "commands"):  # a group: its subcommand
            name = words.pop(0)
            assert name in command.commands, line
            command = command.commands[name]
        command.make_context(command.name, words)  # refuses an unknown option


def serve_port(args: list[str]) -> int:
    assert args[0] == "serve"
    return int(args[args.index("--port") + 1])


def test_one_port_from_the_image_to_the_balancer() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    exposed = int(re.search(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE)[1])
    container = gateway_container()
    assert container["ports"][0]["containerPort"] == exposed
    assert serve_port(container["args"]) == exposed
    gateway = compose()["services"]["gateway"]
    assert serve_port(gateway["command"]) == exposed
    assert gateway["expose"] == [str(exposed)]
    assert f"127.0.0.1:{exposed}/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert f"server gateway:{exposed} " in NGINX.read_text()


def gateway_container() -> dict[str, Any]:
    deployment = base_resource("Deployment", "customer-graph")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_probes_ask_routes_the_app_serves() -> None:
    served = {
        route.path
        for route in create_app(Settings(_env_file=None)).routes
        if isinstance(route, Route)
    }
    container = gateway_container()
    probes = {
        kind: container[kind]["httpGet"]["path"]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes == {
        "startupProbe": "/healthz",
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
    }
    assert set(probes.values()) <= served


def committed_secret_values() -> dict[str, str]:
    """What the files put where a secret goes: the Secret's values and the
    uncommented lines of gateway.env.example."""
    values = dict(base_resource("Secret", "customer-graph")["stringData"])
    example = (DEPLOY / "gateway.env.example").read_text()
    for line in example.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_placeholder_secrets_are_refused_in_production() -> None:
    """Nobody can run the files as committed: a deployment that forgets to
    replace a placeholder stops at start with one line naming it."""
    values = committed_secret_values()
    assert "CG_SECRET_KEY" in values
    for name, value in values.items():
        if name != "CG_SECRET_KEY":
            continue
        settings = Settings(_env_file=None, env="production", secret_key=value)
        assert any(name in problem for problem in settings.production_problems())

"""The deployment files of ``deploy/``, read as the tests check them.

YAML is read with PyYAML's safe loader, which resolves anchors and ``<<``
merge keys as Docker Compose does; Compose's ``${VAR}`` interpolation is left
as text (the schema and the checks read it as Compose would before
interpolation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
NGINX = DEPLOY / "nginx.conf"
KUBERNETES = DEPLOY / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAY = KUBERNETES / "overlays" / "example"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def manifests(path: Path) -> list[dict[str, Any]]:
    """The resources of one manifest file (``---`` separates several)."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubernetes_files() -> Iterator[Path]:
    """Every manifest of the kubernetes directory, kustomizations aside."""
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield path


def base_resource(kind: str, name: str) -> dict[str, Any]:
    for path in kubernetes_files():
        for resource in manifests(path):
            if resource["kind"] == kind and resource["metadata"]["name"] == name:
                return resource
    raise LookupError(f"no {kind} {name} in {KUBERNETES}")


def duration_seconds(text: str) -> float:
    """Compose's durations (``40s``, ``1m30s``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Compose duration: {text!r}")
    return sum(float(number) * units[unit] for number, unit in parts)


def setting_names(text: str) -> set[str]:
    return set(re.findall(r"\bCG_[A-Z0-9_]+\b", text))


def configured(environment: dict[str, str]) -> Settings:
    """The settings a process given this environment runs with (its CG_
    entries; the rest at their defaults), parsed as the gateway parses them."""
    values = {
        name.removeprefix("CG_").lower(): value
        for name, value in environment.items()
        if name.startswith("CG_")
    }
    return Settings(_env_file=None, **values)

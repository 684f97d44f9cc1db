"""Every package that ``gateway/`` and ``connectors/`` import is a declared,
non-dev dependency: the Dockerfile installs ``pip install .`` without extras,
so an import satisfied only by a dev tool's dependency (PyJWT came in that way)
dies in production with ``ModuleNotFoundError``.

Declared means named in ``[project].dependencies`` itself, not reached through
another package's requirements, which may drop it in any release.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"gateway", "connectors"}
SOURCE_CHECKOUT_ONLY = {"bench"}
"""Imported behind a guard that answers "runs from a source checkout"."""


def imported_top_level_modules() -> dict[str, set[str]]:
    """Top-level module → the files importing it, for third-party modules."""
    found: dict[str, set[str]] = {}
    for package in FIRST_PARTY:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif (
                    isinstance(node, ast.ImportFrom) and node.module and not node.level
                ):
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in sys.stdlib_module_names | FIRST_PARTY:
                        continue
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}


def undeclared(declared: set[str]) -> dict[str, list[str]]:
    """Imported third-party modules no distribution in ``declared`` provides."""
    providers = packages_distributions()
    missing = {}
    for module, files in imported_top_level_modules().items():
        if module in SOURCE_CHECKOUT_ONLY:
            continue
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions & declared:
            missing[module] = sorted(files)
    return missing


def test_every_run_time_import_is_a_declared_non_dev_dependency() -> None:
    missing = undeclared(declared_distributions())
    assert not missing, f"imported but not in [project].dependencies: {missing}"


def test_a_dependency_missing_from_the_declared_set_is_reported() -> None:
    missing = undeclared(declared_distributions() - {"pyjwt"})
    assert "jwt" in missing


def pins() -> dict[str, str]:
    """``constraints.txt``: a distribution → its pinned version."""
    found: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.partition("#")[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        found[canonicalize_name(requirement.name)] = specifier.version
    return found


def test_constraints_pin_every_declared_dependency_within_its_range() -> None:
    """``./dev``, the Dockerfile and the production-install test install with
    ``constraints.txt``: each dependency (dev extras too) pinned, and the pin
    inside the range ``pyproject.toml`` declares, or pip refuses to install."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = pins()
    wrong = {}
    for text in declared:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pin = pinned.get(canonicalize_name(requirement.name))
        if pin is None or not requirement.specifier.contains(pin, prereleases=True):
            wrong[requirement.name] = pin
    assert wrong == {}

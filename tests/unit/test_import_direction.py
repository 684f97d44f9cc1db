"""The shape of the code, kept: which package may import which.

``ALLOWED`` is the map of docs/architecture.md as a table. Every import in
``gateway/`` and ``connectors/`` (those under ``if TYPE_CHECKING:`` too: a type
couples as much as a call) must follow it, and the table itself has no cycle,
so a change that needs a new arrow has to add it here, in review, in the open.

Two finer rules ride on the same reading of imports: outside
``gateway/schema/`` only the modules that serve a schema import it (resolvers
take plain values; the schema converts its Strawberry inputs into them), and
no resolver publishes on the change bus by hand (``services.crm`` announces
each write after its commit).
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ALLOWED: dict[str, frozenset[str]] = {
    name: frozenset(deps)
    for name, deps in {
        # leaves
        "connectors": set(),
        "gateway.redis_address": set(),
        "gateway.settings": {"gateway.redis_address"},
        "gateway.sealing": {"gateway.settings"},
        "gateway.metrics": set(),
        "gateway.errors": {"connectors"},
        "gateway.validation": {"gateway.errors"},
        "gateway.relay": {"gateway.errors"},
        "gateway.guard": {
            "connectors", "gateway.metrics", "gateway.settings", "gateway.shared_redis",
        },
        # (a data migration seals with the settings' key)
        "gateway.db": {
            "gateway.errors", "gateway.relay", "gateway.sealing", "gateway.settings",
        },
        # (key names hold keyed hashes under a key derived from the secret key)
        "gateway.shared_redis": {
            "gateway.errors", "gateway.metrics", "gateway.redis_address",
            "gateway.sealing", "gateway.settings",
        },
        "gateway.jobs": {"gateway.errors", "gateway.settings"},
        # the domain, below any transport
        "gateway.auth": {
            "gateway.db", "gateway.errors", "gateway.guard", "gateway.relay", "gateway.settings", "gateway.shared_redis", "gateway.validation",
        },
        "gateway.changes": {"gateway.db", "gateway.errors", "gateway.shared_redis"},
        "gateway.identity": {
            "connectors", "gateway.changes", "gateway.db", "gateway.errors",
            "gateway.settings", "gateway.validation",
        },
        "gateway.crm": {
            "gateway.changes", "gateway.db", "gateway.errors", "gateway.validation",
        },
        "gateway.timeline": {"connectors", "gateway.db", "gateway.errors", "gateway.relay"},
        "gateway.cache": {
            "connectors", "gateway.changes", "gateway.db", "gateway.errors",
            "gateway.identity", "gateway.metrics", "gateway.relay",
            "gateway.settings", "gateway.shared_redis",
        },
        "gateway.admission": {
            "gateway.auth", "gateway.cache", "gateway.db", "gateway.errors",
            "gateway.relay", "gateway.settings",
        },
        "gateway.runtime": {
            "connectors", "gateway.admission", "gateway.auth", "gateway.cache",
            "gateway.changes", "gateway.crm", "gateway.db", "gateway.guard",
            "gateway.identity", "gateway.jobs", "gateway.metrics", "gateway.sealing", "gateway.settings",
            "gateway.shared_redis",
        },
        "gateway.insights": {
            "connectors", "gateway.admission", "gateway.auth", "gateway.db",
            "gateway.errors", "gateway.mirror", "gateway.relay", "gateway.runtime",
            "gateway.settings", "gateway.validation",
        },
        "gateway.automations": {
            "connectors", "gateway.audiences", "gateway.auth", "gateway.changes",
            "gateway.crm", "gateway.db", "gateway.errors", "gateway.insights",
            "gateway.jobs", "gateway.outbound", "gateway.promotions", "gateway.relay",
            "gateway.runtime", "gateway.settings", "gateway.validation",
        },
        "gateway.mirror": {
            "connectors", "gateway.db", "gateway.errors", "gateway.metrics",
        },
        "gateway.promotions": {
            "connectors", "gateway.changes", "gateway.db", "gateway.errors",
            "gateway.identity", "gateway.insights", "gateway.runtime",
        },
        "gateway.audiences": {
            "connectors", "gateway.auth", "gateway.changes", "gateway.db",
            "gateway.errors", "gateway.insights", "gateway.runtime",
        },
        "gateway.loaders": {
            "connectors", "gateway.cache", "gateway.db", "gateway.identity",
            "gateway.insights", "gateway.metrics", "gateway.mirror",
            "gateway.promotions", "gateway.relay", "gateway.runtime",
            "gateway.timeline",
        },
        "gateway.outbound": {
            "gateway.db", "gateway.errors", "gateway.jobs", "gateway.relay",
            "gateway.runtime", "gateway.sealing", "gateway.settings",
        },
        "gateway.retention": {"gateway.db", "gateway.outbound", "gateway.settings"},
        "gateway.privacy": {
            "connectors", "gateway.cache", "gateway.changes", "gateway.db",
            "gateway.errors", "gateway.jobs", "gateway.runtime", "gateway.settings",
        },
        # endpoints outside GraphQL
        "gateway.ingest": {
            "gateway.admission", "gateway.auth", "gateway.changes", "gateway.crm",
            "gateway.db", "gateway.errors", "gateway.identity", "gateway.runtime", "gateway.settings",
            "gateway.validation",
        },
        "gateway.webhooks": {
            "connectors", "gateway.admission", "gateway.automations", "gateway.changes", "gateway.crm",
            "gateway.db", "gateway.errors", "gateway.identity", "gateway.insights",
            "gateway.mirror", "gateway.privacy", "gateway.runtime", "gateway.validation",
        },
        "gateway.sync": {
            "connectors", "gateway.changes", "gateway.db", "gateway.identity",
            "gateway.webhooks",
        },
        # GraphQL: resolvers take plain values, the schema converts
        "gateway.resolvers": {
            "connectors", "gateway.audiences", "gateway.auth", "gateway.automations",
            "gateway.changes", "gateway.crm", "gateway.db", "gateway.errors",
            "gateway.identity", "gateway.insights", "gateway.loaders",
            "gateway.outbound", "gateway.privacy", "gateway.promotions", "gateway.relay",
            "gateway.runtime", "gateway.timeline", "gateway.validation",
        },
        "gateway.schema": {
            "connectors", "gateway.audiences", "gateway.auth", "gateway.automations",
            "gateway.crm", "gateway.db", "gateway.errors",
            "gateway.insights", "gateway.metrics", "gateway.relay",
            "gateway.resolvers", "gateway.timeline",
        },
        "gateway.http": {
            "gateway.admission", "gateway.auth", "gateway.cache", "gateway.errors",
            "gateway.loaders", "gateway.metrics", "gateway.relay", "gateway.resolvers",
            "gateway.runtime", "gateway.schema", "gateway.settings",
        },
        # composition roots: nothing imports them but each other
        "gateway.app": {
            "gateway.admission", "gateway.audiences", "gateway.automations",
            "gateway.errors", "gateway.http", "gateway.ingest", "gateway.insights",
            "gateway.jobs", "gateway.metrics", "gateway.outbound", "gateway.privacy",
            "gateway.retention",
            "gateway.runtime", "gateway.settings", "gateway.webhooks",
        },
        "gateway.demo": {
            "connectors", "gateway.app", "gateway.automations", "gateway.db", "gateway.errors",
            "gateway.insights", "gateway.mirror", "gateway.runtime", "gateway.settings",
            "gateway.sync",
        },
        "gateway.cli": {
            "connectors", "gateway.admission", "gateway.app", "gateway.audiences",
            "gateway.auth", "gateway.changes",
            "gateway.crm", "gateway.db", "gateway.demo", "gateway.errors",
            "gateway.insights", "gateway.jobs", "gateway.mirror", "gateway.relay",
            "gateway.retention", "gateway.runtime", "gateway.schema",
            "gateway.settings", "gateway.sync", "gateway.validation",
        },
    }.items()
}  # fmt: skip
"""Package → the packages it may import (besides itself)."""

NO_SQL = {"gateway.schema", "gateway.resolvers", "gateway.http", "gateway.timeline"}
"""Packages that reach the database only through loaders and services."""


def unit_of(module: str) -> str:
    """The unit of ``ALLOWED`` a dotted module belongs to."""
    parts = module.split(".")
    if parts[0] == "connectors":
        return "connectors"
    return ".".join(parts[:2])


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parsed(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), str(path))


def imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every absolute import — under ``TYPE_CHECKING``
    or inside a function too — ``from gateway import x`` read as ``gateway.x``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in {"gateway", "connectors"}:
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"
            else:
                yield node.lineno, node.module


def sources() -> list[Path]:
    return sorted(
        p
        for package in ("gateway", "connectors")
        for p in (ROOT / package).rglob("*.py")
    )


def test_every_package_is_in_the_table() -> None:
    units = {unit_of(module_of(p)) for p in sources()} - {"gateway.__init__"}
    assert units - {"gateway"} <= set(ALLOWED), sorted(units - set(ALLOWED))


def test_the_table_has_no_cycle() -> None:
    graphlib.TopologicalSorter(ALLOWED).prepare()


def test_top_level_holds_packages_and_a_few_modules() -> None:
    modules = {p.stem for p in (ROOT / "gateway").glob("*.py")}
    assert modules == {
        "__init__", "app", "errors", "metrics", "sealing", "settings", "validation"
    }  # fmt: skip


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_table(path: Path) -> None:
    here = unit_of(module_of(path))
    wrong = []
    for line, target in imports(parsed(path)):
        top = target.split(".")[0]
        if top in {"gateway", "connectors"}:
            there = unit_of(target)
            if there != here and there not in ALLOWED[here]:
                wrong.append(f"line {line}: {here} → {there} ({target})")
        elif top == "sqlalchemy" and here in NO_SQL:
            wrong.append(f"line {line}: {here} imports SQLAlchemy")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("source", ["shopify", "zendesk", "posthog"])
def test_a_connector_client_never_imports_its_simulator(source: str) -> None:
    simulator = f"connectors.{source}.simulator"
    for path in (ROOT / "connectors" / source).glob("*.py"):
        for line, target in imports(parsed(path)):
            assert not target.startswith(simulator), f"{path.name}:{line} {target}"


SERVING = {
    "gateway.cli.main",
    "gateway.http.graphql",
    "gateway.http.fragments",
    "gateway.http.embed",
}
"""What serves a schema: ``customer-graph schema``, ``/graphql`` and its
executor (which asks the schema which fields read an upstream),
``/embed/graphql``."""


def imports_schema(tree: ast.AST) -> bool:
    return any(
        target == "gateway.schema" or target.startswith("gateway.schema.")
        for _, target in imports(tree)
    )


def test_only_the_schema_and_what_serves_it_import_the_schema() -> None:
    importers = {
        module_of(path)
        for path in sources()
        if unit_of(module_of(path)) != "gateway.schema" and imports_schema(parsed(path))
    }
    assert importers <= SERVING, sorted(importers - SERVING)


def test_no_resolver_publishes_a_change_by_hand() -> None:
    publishers = [
        module_of(path)
        for path in (ROOT / "gateway" / "resolvers").rglob("*.py")
        if any(
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "publish"
            for node in ast.walk(parsed(path))
        )
    ]
    assert not publishers


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from gateway.schema.customer import CustomerFilter", True),
        ("from gateway import schema", True),
        ("import gateway.schema.crm", True),
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from gateway.schema.customer import UpdateCustomerInput",
            True,
        ),
        ("def f():\n    from gateway.schema import build_schema", True),
        ("from gateway.schemas import x", False),
        ("from gateway.db.customer_queries import CustomerFilterSpec", False),
    ],
)
def test_the_reading_sees_every_form_of_import(source: str, found: bool) -> None:
    assert imports_schema(ast.parse(source)) is found

"""The schema sits on top: it imports the resolvers, never the other way round.

Resolvers take plain values (``CustomerFilterSpec``, ``NewCustomer``, a
mapping of changes); the schema layer converts its Strawberry inputs into
them. Outside ``gateway/schema/`` only the modules that serve a schema import
it. Every import counts, also one under ``TYPE_CHECKING`` or inside a function.
And resolvers write through ``services.crm``, which announces each change:
none publishes on the change bus by hand.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
SERVING = {"gateway/cli/main.py", "gateway/http/graphql.py", "gateway/http/embed.py"}
"""``customer-graph schema``, ``/graphql`` and ``/embed/graphql``."""


def imported_modules(tree: ast.AST) -> set[str]:
    """Dotted names a module imports; ``from gateway import schema`` counts as
    ``gateway.schema``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_schema(tree: ast.AST) -> bool:
    return any(
        name == "gateway.schema" or name.startswith("gateway.schema.")
        for name in imported_modules(tree)
    )


def publishes(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "publish"
        for node in ast.walk(tree)
    )


def modules() -> dict[str, ast.AST]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(), str(path))
        for path in sorted(GATEWAY.rglob("*.py"))
    }


def test_only_the_schema_and_what_serves_it_import_the_schema() -> None:
    importers = {
        name
        for name, tree in modules().items()
        if not name.startswith("gateway/schema/") and imports_schema(tree)
    }
    assert importers <= SERVING


def test_no_resolver_publishes_a_change_by_hand() -> None:
    publishers = {
        name
        for name, tree in modules().items()
        if name.startswith("gateway/resolvers/") and publishes(tree)
    }
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
def test_the_check_sees_every_form_of_import(source: str, found: bool) -> None:
    assert imports_schema(ast.parse(source)) is found

"""Every index a migration builds on PostgreSQL on a table that existed
before it is built concurrently (``gateway.db.online_ddl``), or listed here
with the reason it may block writes: a rolling deploy migrates under traffic
(docs/deploying.md, "Migrations under traffic")."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.db.session import MIGRATIONS

ALLOWED = {
    ("0023", "uq_privacy_requests_erased_customer"): (
        "privacy_requests holds one row per privacy request (hundreds); the "
        "index follows a column change in the same transaction"
    ),
    ("0024", "ix_customers_merged_into"): (
        "the SQLite branch's (batch mode); PostgreSQL's builds it concurrently"
    ),
}
"""(revision, index) → why a plain ``CREATE INDEX`` is fine there."""

CONCURRENT = {"create_index", "rebuild_index"}
"""``gateway.db.online_ddl``'s builders (called as ``online_ddl.<name>`` or
imported by name)."""


def _string(node: ast.expr | None) -> str | None:
    return (
        node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        else None
    )


def _indexes_on_older_tables(path: Path) -> list[str]:
    """The plain index builds of ``path``'s upgrade on tables it did not
    create itself: ``op.create_index(name, table, …)`` and
    ``batch_op.create_index(name, …)`` inside ``batch_alter_table(table)``."""
    tree = ast.parse(path.read_text())
    upgrade = [
        node
        for node in tree.body
        if not (isinstance(node, ast.FunctionDef) and node.name == "downgrade")
    ]
    created: set[str] = set()
    builds: list[tuple[str, str | None, ast.Call]] = []
    for node in (n for top in upgrade for n in ast.walk(top)):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "batch_alter_table"
                ):
                    table = _string(call.args[0])
                    for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                        if _is_op_call(inner, "create_index", owner=None):
                            builds.append((table or "?", _string(inner.args[0]), inner))
        elif _is_op_call(node, "create_table", owner="op"):
            created.add(_string(node.args[0]) or "?")
        elif _is_op_call(node, "create_index", owner="op"):
            table = _string(node.args[1]) if len(node.args) > 1 else None
            builds.append((table or "?", _string(node.args[0]), node))
    plain = []
    for table, name, call in builds:
        concurrent = any(k.arg == "postgresql_concurrently" for k in call.keywords)
        if table not in created and not concurrent:
            plain.append(f"{name} on {table}")
    return sorted(plain)


def _is_op_call(node: ast.AST, attribute: str, owner: str | None) -> bool:
    """``op.<attribute>(…)`` (owner ``op``) or ``<anything but online_ddl>.<attribute>(…)``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    base = node.func.value
    if node.func.attr != attribute or not isinstance(base, ast.Name):
        return False
    return base.id == owner if owner else base.id != "online_ddl"


def test_indexes_on_existing_tables_are_built_concurrently_on_postgresql() -> None:
    offenders = []
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        revision = path.name.split("_", 1)[0]
        for build in _indexes_on_older_tables(path):
            name = build.split(" on ", 1)[0]
            if (revision, name) not in ALLOWED:
                offenders.append(f"{path.name}: {build}")
    assert offenders == []


def test_the_scan_sees_a_plain_index_on_an_older_table(tmp_path: Path) -> None:
    migration = tmp_path / "0099_example.py"
    migration.write_text(
        "from alembic import op\n"
        "from gateway.db import online_ddl\n"
        "def upgrade():\n"
        "    op.create_table('fresh')\n"
        "    op.create_index('ix_fresh_a', 'fresh', ['a'])\n"
        "    op.create_index('ix_orders_a', 'order_facts', ['a'])\n"
        "    online_ddl.create_index('ix_events_a', 'tracked_events', ['a'])\n"
        "    with op.batch_alter_table('customers') as batch_op:\n"
        "        batch_op.create_index('ix_customers_a', ['a'])\n"
        "def downgrade():\n"
        "    op.create_index('ix_old_b', 'order_facts', ['b'])\n"
    )
    assert _indexes_on_older_tables(migration) == [
        "ix_customers_a on customers",
        "ix_orders_a on order_facts",
    ]

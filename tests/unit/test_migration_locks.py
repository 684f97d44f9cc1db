"""What a migration does on PostgreSQL to a table that existed before it
must not block writes for longer than a moment (a rolling deploy migrates
under traffic: docs/deploying.md, "Migrations under traffic"):

- an index is built concurrently (``gateway.db.online_ddl``);
- a foreign key is added ``NOT VALID`` (and validated apart);
- a new column is nullable, or has a constant default (no rewrite).

Anything else is listed here with the reason it is fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.db.session import MIGRATIONS

ALLOWED = {
    ("0023", "index uq_privacy_requests_erased_customer"): (
        "privacy_requests holds one row per privacy request (hundreds); the "
        "index follows a column change in the same transaction"
    ),
    ("0024", "index ix_customers_merged_into"): (
        "the SQLite branch's (batch mode); PostgreSQL's builds it concurrently"
    ),
    ("0024", "foreign key fk_customers_merged_into"): (
        "the SQLite branch's (batch mode); PostgreSQL's adds it NOT VALID"
    ),
}
"""(revision, operation) → why it may run as written."""

SAFE_WITH = {
    "create_index": "postgresql_concurrently",
    "create_foreign_key": "postgresql_not_valid",
}
"""The keyword that makes an operation harmless to writers."""

VOLATILE = ("now", "random", "uuid", "clock_timestamp", "nextval")


def _string(node: ast.expr | None) -> str | None:
    return (
        node.value
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        else None
    )


def _operation(call: ast.Call, table: str | None) -> tuple[str, str] | None:
    """``(table, label)`` of a blocking operation, ``None`` if harmless.
    ``table`` is the ``batch_alter_table``'s, if the call is inside one."""
    assert isinstance(call.func, ast.Attribute)
    kind, args = call.func.attr, call.args
    keywords = {k.arg for k in call.keywords}
    if kind in SAFE_WITH and SAFE_WITH[kind] in keywords:
        return None
    if kind == "create_index":
        on = table or (_string(args[1]) if len(args) > 1 else None)
        return on or "?", f"index {_string(args[0]) if args else None}"
    if kind == "create_foreign_key":
        on = table or (_string(args[1]) if len(args) > 1 else None)
        return on or "?", f"foreign key {_string(args[0]) if args else None}"
    if kind == "add_column":
        column = args[-1] if args else None
        on = table or (_string(args[0]) if len(args) > 1 else None)
        if isinstance(column, ast.Call) and _rewrites(column):
            return on or "?", f"rewriting column {_string(column.args[0])}"
    return None


def _rewrites(column: ast.Call) -> bool:
    """A ``Column(…)`` that is ``NOT NULL`` without a default, or whose
    default is computed per row."""
    keywords = {k.arg: k.value for k in column.keywords}
    default = keywords.get("server_default")
    if default is not None:
        return any(word in ast.unparse(default).lower() for word in VOLATILE)
    nullable = keywords.get("nullable")
    return isinstance(nullable, ast.Constant) and nullable.value is False


def _blocking_operations(path: Path) -> list[str]:
    """The operations of ``path``'s upgrade that block writes on tables it
    did not create itself, as "<operation> on <table>"."""
    tree = ast.parse(path.read_text())
    upgrade = [
        node
        for node in tree.body
        if not (isinstance(node, ast.FunctionDef) and node.name == "downgrade")
    ]
    created: set[str] = set()
    found: list[tuple[str, str]] = []
    batched: set[int] = set()
    for node in (n for top in upgrade for n in ast.walk(top)):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if _is_call(call, "batch_alter_table", owner="op"):
                    assert isinstance(call, ast.Call)
                    table = _string(call.args[0])
                    for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                        if _is_call(inner, None, owner=None):
                            assert isinstance(inner, ast.Call)
                            batched.add(id(inner))
                            if hit := _operation(inner, table or "?"):
                                found.append(hit)
        elif _is_call(node, "create_table", owner="op"):
            assert isinstance(node, ast.Call)
            created.add(_string(node.args[0]) or "?")
        elif _is_call(node, None, owner="op") and id(node) not in batched:
            assert isinstance(node, ast.Call)
            if hit := _operation(node, None):
                found.append(hit)
    return sorted(
        f"{label} on {table}" for table, label in found if table not in created
    )


def _is_call(node: ast.AST, attribute: str | None, owner: str | None) -> bool:
    """``<owner>.<attribute>(…)``; ``None``: any attribute, or any owner but
    ``online_ddl`` (whose operations are the harmless forms)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    base = node.func.value
    if attribute is not None and node.func.attr != attribute:
        return False
    if not isinstance(base, ast.Name) or base.id == "online_ddl":
        return False
    return owner is None or base.id == owner


def test_migrations_do_not_block_writes_to_existing_tables_on_postgresql() -> None:
    offenders = []
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        revision = path.name.split("_", 1)[0]
        for operation in _blocking_operations(path):
            if (revision, operation.split(" on ", 1)[0]) not in ALLOWED:
                offenders.append(f"{path.name}: {operation}")
    assert offenders == []


def test_the_scan_sees_what_blocks_writes_on_an_older_table(tmp_path: Path) -> None:
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
        "        batch_op.add_column(sa.Column('b', sa.Integer(), nullable=False))\n"
        "        batch_op.add_column(sa.Column('c', sa.Integer(), nullable=True))\n"
        "    op.add_column('notes', sa.Column('d', sa.Text(), server_default='x'))\n"
        "    op.add_column('notes', sa.Column('e', WHEN, server_default=sa.func.now()))\n"
        "    op.create_foreign_key('fk_a', 'notes', 'customers', ['a'], ['id'])\n"
        "    op.create_foreign_key(\n"
        "        'fk_b', 'notes', 'customers', ['b'], ['id'], postgresql_not_valid=True\n"
        "    )\n"
        "def downgrade():\n"
        "    op.create_index('ix_old_b', 'order_facts', ['b'])\n"
    )
    assert _blocking_operations(migration) == [
        "foreign key fk_a on notes",
        "index ix_customers_a on customers",
        "index ix_orders_a on order_facts",
        "rewriting column b on customers",
        "rewriting column e on notes",
    ]

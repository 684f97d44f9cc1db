"""Schema changes a serving fleet does not notice (used by the migrations).

A rolling deploy migrates while the old replicas still write. On PostgreSQL
a plain ``CREATE INDEX`` holds a lock that blocks every write to its table
for the whole build (0008 once did so ~10 s on 6,500,000 order lines), and any
DDL that waits for its lock queues every later statement on the table behind
it. So:

- indexes on tables that already hold rows are built and dropped
  ``CONCURRENTLY``, outside the migration's transaction (Alembic's
  ``autocommit_block``); they wait for older transactions, not the reverse,
  so they run with no ``lock_timeout``;
- every other statement runs under the short ``lock_timeout`` that
  ``gateway.db.session.upgrade`` sets: a DDL that cannot have its lock at
  once gives up (``is_lock_timeout``) instead of stalling the writers queued
  behind it, and the upgrade tries again from the revision that failed.

Each helper may run again after an interruption (``IF NOT EXISTS``, an
invalid index left by a failed concurrent build is dropped first), since a
migration whose concurrent step failed is run again from its start. SQLite
has no ``CONCURRENTLY`` (and one writer at a time): plain DDL there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

LOCK_NOT_AVAILABLE = "55P03"
"""PostgreSQL's SQLSTATE for a lock not granted within ``lock_timeout``."""


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy error, as a migration raises it) is a
    lock that ``lock_timeout`` refused: safe to try the migration again."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def create_index(name: str, table: str, columns: Sequence[str], **kw: Any) -> None:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS`` on PostgreSQL."""
    if not _postgresql():
        op.create_index(name, table, list(columns), **kw)
        return
    with _concurrently():
        _drop_if_invalid(name)
        options = {**kw, "if_not_exists": True, "postgresql_concurrently": True}
        op.create_index(name, table, list(columns), **options)


def drop_index(name: str, table: str) -> None:
    """``DROP INDEX CONCURRENTLY IF EXISTS`` on PostgreSQL."""
    if not _postgresql():
        op.drop_index(name, table_name=table)
        return
    with _concurrently():
        op.drop_index(
            name, table_name=table, postgresql_concurrently=True, if_exists=True
        )


def rebuild_index(name: str, table: str, columns: Sequence[str], **kw: Any) -> None:
    """Give index ``name`` a new definition with no moment without it
    (PostgreSQL only): build ``<name>_new`` concurrently, drop ``name``
    concurrently, rename (a brief lock on the index alone)."""
    if not _postgresql():
        return
    new = f"{name}_new"
    with _concurrently():
        _drop_if_invalid(new)
        if not _exists(new):
            op.create_index(
                new, table, list(columns), postgresql_concurrently=True, **kw
            )
        op.drop_index(
            name, table_name=table, postgresql_concurrently=True, if_exists=True
        )
    op.execute(f'ALTER INDEX "{new}" RENAME TO "{name}"')


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


@contextmanager
def _concurrently() -> Iterator[None]:
    """Outside the migration's transaction, with no ``lock_timeout``: a
    concurrent build waits for the transactions older than it, and giving up
    would leave an invalid index behind."""
    bind = op.get_bind()
    with op.get_context().autocommit_block():
        timeout = bind.scalar(sa.text("SHOW lock_timeout"))
        bind.execute(sa.text("SET lock_timeout = 0"))
        try:
            yield
        finally:
            bind.execute(
                sa.text("SELECT set_config('lock_timeout', :t, false)"),
                {"t": timeout},
            )


def _exists(name: str) -> bool:
    return (
        op.get_bind().scalar(sa.text("SELECT to_regclass(:n)"), {"n": name}) is not None
    )


def _drop_if_invalid(name: str) -> None:
    """Drop what an interrupted concurrent build of ``name`` left: an index
    that exists but is not valid (PostgreSQL never uses it, writes maintain it)."""
    invalid = op.get_bind().scalar(
        sa.text(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"
        ),
        {"n": name},
    )
    if invalid:
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')

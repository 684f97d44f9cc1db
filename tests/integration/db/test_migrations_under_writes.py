"""Every migration, one at a time, on a loaded PostgreSQL while writers keep
going: no write fails, and the schema ends as an upgrade at rest leaves it.

The longest wait of one write transaction per migration is printed
(``-s``), not asserted: it is the figure docs/deploying.md quotes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.db.online_ddl import is_lock_timeout
from gateway.db.session import alembic_config, upgrade
from tests.integration.db.writer import SEED, Writes, seed, write_until_stopped

SCHEMA = """
SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes
WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid)
    || CASE WHEN convalidated THEN '' ELSE ' (not valid)' END
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'column ' || table_name || '.' || column_name || ': ' || data_type
    || ' ' || is_nullable || ' ' || coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY 1
"""


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _schema(url: str) -> list[str]:
    connection = await asyncpg.connect(_dsn(url))
    try:
        return [row[0] for row in await connection.fetch(SCHEMA)]
    finally:
        await connection.close()


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        await connection.close()
    return {row[0] for row in rows}


async def test_every_migration_runs_under_writes_without_failing_one(
    empty_database: str, second_database: str
) -> None:
    """…and leaves the schema an upgrade at rest leaves (no index invalid,
    none missing, every constraint validated)."""
    script = ScriptDirectory.from_config(alembic_config(empty_database))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    writes, took = Writes(), dict[str, float]()
    writers = [
        asyncio.create_task(write_until_stopped(_dsn(empty_database), writes))
        for _ in range(2)
    ]
    try:
        for revision in revisions:
            writes.step, started = revision, time.perf_counter()
            await asyncio.to_thread(upgrade, empty_database, revision)
            took[revision] = time.perf_counter() - started
            present = await _tables(empty_database)
            writes.step = f"{revision} seeding"
            for table in [t for t in SEED if t in present - writes.tables]:
                await seed(_dsn(empty_database), table)
            writes.tables |= present
    finally:
        writes.stop.set()
        await asyncio.gather(*writers)

    print("\nlongest write transaction per step (s), and the migration's time:")
    for step, longest in writes.longest.items():
        print(f"  {step}: {longest:.3f}  {took.get(step, 0):.2f}")
    print(f"  writes: {writes.done}, failed: {len(writes.failed)}")
    assert writes.failed == []
    assert writes.done > len(revisions)

    await asyncio.to_thread(upgrade, second_database)
    assert await _schema(empty_database) == await _schema(second_database)


async def test_a_migration_refused_its_lock_tries_again_once_it_is_free(
    empty_database: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database, "0023")
    engine = create_async_engine(empty_database)
    refused = threading.Event()

    class Refusals(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            refused.set()

    handler = Refusals(logging.WARNING)
    logging.getLogger("gateway.db.session").addHandler(handler)
    try:
        async with engine.connect() as reader:
            await reader.execute(text("SELECT count(*) FROM customers"))
            with pytest.raises(DBAPIError) as caught:
                await asyncio.to_thread(
                    upgrade, empty_database, "0024", lock_timeout_ms=50, attempts=1
                )
            assert is_lock_timeout(caught.value)
            waiting = asyncio.create_task(
                asyncio.to_thread(
                    upgrade, empty_database, "0024", lock_timeout_ms=50, attempts=50
                )
            )
            await asyncio.to_thread(refused.wait)
            await reader.rollback()
        await waiting
    finally:
        logging.getLogger("gateway.db.session").removeHandler(handler)
        await engine.dispose()
    assert "column customers.merged_into: bigint YES " in await _schema(empty_database)

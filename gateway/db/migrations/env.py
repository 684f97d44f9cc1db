"""Alembic environment: runs the migrations through the async engine, in batch
mode on SQLite so ALTERs work on both databases.

Each migration commits on its own (a fleet keeps writing during an upgrade:
no lock outlives its migration), and on PostgreSQL every DDL waits at most
``lock_timeout`` for its lock (``gateway.db.online_ddl``)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from gateway.db.models import Base
from gateway.db.session import create_engine

target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    lock_timeout = context.config.get_main_option("lock_timeout")
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql" and lock_timeout:
                await connection.exec_driver_sql(f"SET lock_timeout = '{lock_timeout}'")
                await connection.commit()
            await connection.run_sync(run)
            await connection.commit()
    finally:
        # A migration refused its lock closes its connection too: the
        # upgrade may try again at once.
        await engine.dispose()


asyncio.run(main())

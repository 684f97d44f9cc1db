"""The benchmark's own database, seeded with the demo world and thrown away.

SQLite in a temporary directory by default. Given a PostgreSQL URL, the
benchmark creates a database of its own on that server (``cg_bench_<random>``)
and drops it afterwards, so it never writes into, or trips over, existing data.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.demo_world import World
from gateway.db.session import create_engine, session_factory, upgrade
from gateway.demo.seed import seed


@asynccontextmanager
async def bench_database(server_url: str | None) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of a fresh, migrated, empty database."""
    if server_url is None:
        with tempfile.TemporaryDirectory(prefix="cg-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    server = make_url(server_url)
    if not server.drivername.startswith("postgresql"):
        raise ValueError("--database-url must name a PostgreSQL server")
    server = server.set(drivername="postgresql+asyncpg")
    name = f"cg_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(
                text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        await admin.dispose()


async def seed_world(url: str, world: World) -> int:
    engine = create_engine(url)
    try:
        return await seed(session_factory(engine), world)
    finally:
        await engine.dispose()

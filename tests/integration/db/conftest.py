"""Throwaway PostgreSQL databases of a test's own, empty (not migrated)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.servers import POSTGRES_URL, asyncpg_url, require, throwaway_database_name


@asynccontextmanager
async def throwaway_database() -> AsyncIterator[str]:
    """The asyncpg URL of a new, empty database, dropped afterwards."""
    require("database", POSTGRES_URL, 5432)
    name = throwaway_database_name()
    admin = create_async_engine(asyncpg_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield asyncpg_url(POSTGRES_URL, name)
    finally:
        async with admin.connect() as connection:
            await connection.execute(
                text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        await admin.dispose()


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    async with throwaway_database() as url:
        yield url


@pytest.fixture
async def second_database() -> AsyncIterator[str]:
    async with throwaway_database() as url:
        yield url

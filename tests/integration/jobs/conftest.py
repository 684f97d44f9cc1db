"""The job engine's tables emptied after each test (they are procrastinate's,
not in ``Base.metadata``, so the shared ``db`` fixture leaves them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from gateway.runtime.services import Services

JOB_TABLES = (
    "procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,"
    " procrastinate_workers"
)


async def empty_jobs(services: Services) -> None:
    async with services.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {JOB_TABLES} CASCADE"))
    connector = services.jobs.connector
    if hasattr(connector, "reset"):  # the in-memory engine
        connector.reset()


@pytest.fixture
async def jobs_db(db: Services) -> AsyncIterator[Services]:
    await empty_jobs(db)
    yield db
    await empty_jobs(db)

"""Reads of one request that overlap share a session; the session closes when
the last of them is done; a failed read leaves it usable for the others."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models
from gateway.db.shared_session import SharedSession
from gateway.runtime.services import Services


class CountingSessions:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.opened: list[AsyncSession] = []

    def __call__(self) -> AsyncSession:
        session = self.services.sessions()
        self.opened.append(session)
        return session


async def test_overlapping_reads_share_one_session_and_later_ones_get_a_new_one(
    db: Services,
) -> None:
    sessions = CountingSessions(db)
    reads = SharedSession(sessions)  # type: ignore[arg-type]

    async def count() -> int:
        async with reads() as session:
            return len((await session.scalars(select(models.Customer))).all())

    assert await asyncio.gather(count(), count(), count()) == [0, 0, 0]
    assert len(sessions.opened) == 1
    assert await count() == 0
    assert len(sessions.opened) == 2


async def test_a_failed_read_leaves_the_shared_session_usable(db: Services) -> None:
    reads = SharedSession(db.sessions)

    async def failing() -> None:
        async with reads() as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    async def count() -> int:
        async with reads() as session:
            return len((await session.scalars(select(models.Customer))).all())

    failed, counted = await asyncio.gather(failing(), count(), return_exceptions=True)
    assert isinstance(failed, DBAPIError)
    assert counted == 0
    with pytest.raises(DBAPIError):
        await failing()


async def test_a_requests_reads_run_in_autocommit_on_postgresql_and_writes_still_land(
    db: Services,
) -> None:
    """No BEGIN and ROLLBACK around a burst of reads on PostgreSQL; a write
    through it (the identity links' upserts) still commits."""
    reads = SharedSession(db.burst_reads)
    async with reads() as session:
        connection = await session.connection()
        level = connection.sync_connection.get_execution_options().get(
            "isolation_level"
        )
    postgresql = db.engine.dialect.name == "postgresql"
    assert level == ("AUTOCOMMIT" if postgresql else None)

    async with reads() as session, session.begin():
        session.add(models.Customer(email="burst@example.com"))
    async with db.sessions() as session:
        found = await session.scalars(
            select(models.Customer.email).where(
                models.Customer.email == "burst@example.com"
            )
        )
        assert found.all() == ["burst@example.com"]

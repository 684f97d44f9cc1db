"""Reads of one request that overlap share a session; the session closes when
the last of them is done; a failed read leaves it usable for the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

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


async def test_overlapping_reads_share_one_session_closed_before_the_next_burst(
    db: Services,
) -> None:
    """A later burst uses the session again, closed in between: no
    connection held, no row loaded before (a write between the bursts is
    read, not the object the first burst loaded)."""
    sessions = CountingSessions(db)
    reads = SharedSession(sessions)  # type: ignore[arg-type]
    async with db.sessions() as writing:
        writing.add(models.Customer(email="burst@example.com", first_name="Old"))
        await writing.commit()

    async def first_name() -> str | None:
        async with reads() as session:
            customer = await session.scalar(select(models.Customer))
            assert customer is not None
            return customer.first_name

    assert await asyncio.gather(first_name(), first_name(), first_name()) == ["Old"] * 3
    assert len(sessions.opened) == 1
    (session,) = sessions.opened
    assert not session.in_transaction()
    assert not session.identity_map
    async with db.sessions() as writing:
        customer = await writing.scalar(select(models.Customer))
        assert customer is not None
        customer.first_name = "New"
        await writing.commit()
    assert await first_name() == "New"
    assert len(sessions.opened) == 1
    assert not session.in_transaction()
    assert not session.identity_map


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


class Turns:
    """Reads taking turns on one ``SharedSession``, the first held open until
    ``release``: who read in which order."""

    def __init__(self, reads: SharedSession) -> None:
        self.reads = reads
        self.order: list[str] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def hold(self, then: Callable[[], object] = lambda: None) -> None:
        """``then`` runs as the turn is handed on, before the next one runs."""
        async with self.reads():
            self.holding.set()
            await self.release.wait()
            self.order.append("holder")
        then()

    async def read(self, name: str, *, urgent: bool = False) -> None:
        async with self.reads(urgent=urgent) as session:
            await session.execute(select(1))
            self.order.append(name)

    async def queued(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        for _ in range(5):  # into the queue for a turn
            await asyncio.sleep(0)
        return task


async def test_an_urgent_read_goes_before_the_reads_waiting_for_their_turn(
    db: Services,
) -> None:
    """A PostHog mirror read (the live call waits for it) passes the
    profile's reads queued before it, not the read in progress."""
    turns = Turns(SharedSession(db.sessions))
    holder = asyncio.ensure_future(turns.hold())
    await turns.holding.wait()
    waiting = [
        await turns.queued(turns.read("addresses")),
        await turns.queued(turns.read("tags")),
        await turns.queued(turns.read("mirror", urgent=True)),
        await turns.queued(turns.read("links", urgent=True)),
    ]
    turns.release.set()
    await asyncio.gather(holder, *waiting)
    assert turns.order == ["holder", "mirror", "links", "addresses", "tags"]


async def test_a_read_cancelled_while_waiting_or_as_its_turn_comes_passes_it_on(
    db: Services,
) -> None:
    turns = Turns(SharedSession(db.sessions))
    given: list[asyncio.Task[None]] = []
    holder = asyncio.ensure_future(turns.hold(then=lambda: given[0].cancel()))
    await turns.holding.wait()
    gone = await turns.queued(turns.read("gone", urgent=True))
    given.append(await turns.queued(turns.read("given", urgent=True)))
    last = await turns.queued(turns.read("last"))
    gone.cancel()  # while it waits
    await asyncio.sleep(0)
    turns.release.set()
    await asyncio.gather(holder, last)
    assert gone.cancelled()
    assert given[0].cancelled()
    assert turns.order == ["holder", "last"]
    await turns.read("after")  # nothing left waiting or holding a turn
    assert turns.order[-1] == "after"

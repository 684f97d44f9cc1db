"""What a full refresh changes on PostgreSQL besides the rows: ``work_mem`` for
its own transaction only, and fresh statistics for the tables it rewrote."""

from __future__ import annotations

from sqlalchemy import text

from gateway.insights.refresh import refresh_all
from gateway.insights.sql import analyze, set_work_mem
from gateway.insights.tables import CustomerTraits
from gateway.services import Services
from tests.integration.insights.facts import NOW, add_customer


async def _dialect(db: Services) -> str:
    async with db.sessions() as session:
        return (await session.connection()).dialect.name


async def test_work_mem_is_raised_for_the_transaction_only(db: Services) -> None:
    if await _dialect(db) != "postgresql":
        async with db.sessions() as session, session.begin():
            await set_work_mem(session, "64MB")  # a no-op on SQLite
        return
    async with db.sessions() as session:
        before = await session.scalar(text("SHOW work_mem"))
        await session.commit()
        await set_work_mem(session, "64MB")
        assert await session.scalar(text("SHOW work_mem")) == "64MB"
        await session.commit()
        assert await session.scalar(text("SHOW work_mem")) == before


async def test_a_full_refresh_leaves_the_planner_the_new_row_counts(
    db: Services,
) -> None:
    for i in range(3):
        await add_customer(db, f"s{i}@example.com")
    if await _dialect(db) != "postgresql":
        await refresh_all(db.sessions, db.settings, NOW)
        async with db.sessions() as session, session.begin():
            await analyze(session, CustomerTraits)  # a no-op on SQLite
        return
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session:
        counted = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'customer_traits'")
        )
    assert counted == 3

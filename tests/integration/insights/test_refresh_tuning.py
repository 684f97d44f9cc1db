"""What a full refresh changes on PostgreSQL besides the rows: ``work_mem`` and
sorted aggregation for its own transaction only, fresh statistics for the
tables it rewrote, and the covering indexes it reads the facts from."""

from __future__ import annotations

from sqlalchemy import text

from gateway.insights.refresh import refresh_all
from gateway.insights.sql import analyze, plan_for_bulk
from gateway.insights.tables import CustomerTraits
from gateway.runtime.services import Services
from tests.integration.insights.facts import NOW, add_customer


async def _dialect(db: Services) -> str:
    async with db.sessions() as session:
        return (await session.connection()).dialect.name


async def test_bulk_planning_lasts_for_the_transaction_only(db: Services) -> None:
    if await _dialect(db) != "postgresql":
        async with db.sessions() as session, session.begin():
            await plan_for_bulk(session, "64MB")  # a no-op on SQLite
        return
    settings = ("work_mem", "enable_hashagg")
    async with db.sessions() as session:
        before = [await session.scalar(text(f"SHOW {name}")) for name in settings]
        await session.commit()
        await plan_for_bulk(session, "64MB")
        during = [await session.scalar(text(f"SHOW {name}")) for name in settings]
        assert during == ["64MB", "off"]
        await session.commit()
        after = [await session.scalar(text(f"SHOW {name}")) for name in settings]
        assert after == before


async def test_the_fact_indexes_cover_what_a_refresh_sums(db: Services) -> None:
    if await _dialect(db) != "postgresql":
        return  # SQLite has no INCLUDE
    async with db.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN"
                " ('ix_order_facts_customer_id_processed_at',"
                " 'ix_order_line_facts_customer_id_category')"
            )
        )
        definitions = {name: definition for name, definition in rows}
    assert definitions["ix_order_facts_customer_id_processed_at"].endswith(
        "(customer_id, processed_at) INCLUDE (total, refunded, currency, cancelled,"
        " returned)"
    )
    assert definitions["ix_order_line_facts_customer_id_category"].endswith(
        "(customer_id, category) INCLUDE (quantity, spend)"
    )


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

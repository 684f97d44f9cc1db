"""Full refreshes and webhooks on PostgreSQL (advisory locks): one full refresh
at time across replicas (a second one is refused at once and writes nothing,
the schedule skips a turn, the command exits with EX_TEMPFAIL), and an order
webhook during a refresh stores its facts without waiting for the refresh's
rows, its customer brought up to date after the refresh."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli.insights import EX_TEMPFAIL
from gateway.cli.main import app
from gateway.insights.refresh import (
    REFRESH_LOCK,
    WRITERS_LOCK,
    RefreshRunning,
    record_orders,
    refresh_all,
    refresh_pending,
    refresh_periodically,
)
from gateway.insights.segments import create_segment
from gateway.insights.sql import transaction_lock
from gateway.insights.tables import (
    CustomerTraits,
    PendingCustomer,
    SegmentMembershipEvent,
)
from gateway.runtime.services import Services
from tests.integration.insights.facts import NOW, add_customer, days_ago, order

ADA = 1


@pytest.fixture
async def pg(db: Services) -> Services:
    async with db.sessions() as session:
        if (await session.connection()).dialect.name != "postgresql":
            pytest.skip("advisory locks are PostgreSQL's; SQLite has one writer")
    assert await add_customer(db, "ada@example.com") == ADA
    return db


@asynccontextmanager
async def refresh_under_way(db: Services) -> AsyncIterator[None]:
    """Hold the locks as a running refresh (on another replica) would."""
    async with db.sessions() as session, session.begin():
        assert await transaction_lock(session, REFRESH_LOCK)
        assert await transaction_lock(session, WRITERS_LOCK)
        yield


async def traits_rows(db: Services) -> int:
    async with db.sessions() as session:
        found = await session.scalar(select(func.count()).select_from(CustomerTraits))
    return int(found or 0)


async def ada(db: Services) -> tuple[int | None, list[int], list[str]]:
    """Ada's order count, pending marks and segments entered."""
    async with db.sessions() as session:
        traits = await session.get(CustomerTraits, ADA)
        marks = await session.scalars(select(PendingCustomer.customer_id))
        entered = await session.scalars(
            select(SegmentMembershipEvent.segment).where(SegmentMembershipEvent.entered)
        )
        return (traits and traits.order_count), list(marks), list(entered)


async def webhook_order(db: Services) -> None:
    """What the Shopify order webhook does in its transaction; never waits
    (a hang here fails the test instead of blocking the suite)."""
    bought = order(days_ago(1), [("Skincare", 1, "54.00")])

    async def deliver() -> None:
        async with db.sessions() as session, session.begin():
            await record_orders(session, ADA, [bought], NOW)

    await asyncio.wait_for(deliver(), timeout=30)


async def test_an_order_webhook_during_a_refresh_is_caught_up_after_it(
    pg: Services,
) -> None:
    await refresh_all(pg.sessions, pg.settings, NOW)
    async with pg.sessions() as session, session.begin():
        await create_segment(session, "Buyers", {"orderCount": {"gte": 1}}, NOW)
    async with refresh_under_way(pg):
        await webhook_order(pg)
        assert await ada(pg) == (0, [ADA], [])  # facts stored, customer marked
    await refresh_pending(pg.sessions, NOW)  # what the refresh does after commit
    assert await ada(pg) == (1, [], ["Buyers"])

    async with refresh_under_way(pg):
        await webhook_order(pg)
    await refresh_all(pg.sessions, pg.settings, NOW)
    assert await ada(pg) == (2, [], ["Buyers"])  # a full refresh ends the same way


async def test_an_order_webhook_with_no_refresh_running_updates_at_once(
    pg: Services,
) -> None:
    await refresh_all(pg.sessions, pg.settings, NOW)
    await webhook_order(pg)
    assert await ada(pg) == (1, [], [])


async def test_a_second_refresh_is_refused_and_writes_nothing(pg: Services) -> None:
    async with refresh_under_way(pg):
        with pytest.raises(RefreshRunning, match="Another insights refresh"):
            await refresh_all(pg.sessions, pg.settings, NOW)
        assert await traits_rows(pg) == 0
    await refresh_all(pg.sessions, pg.settings, NOW)  # the lock went with its commit
    assert await traits_rows(pg) == 1


async def test_the_schedule_skips_its_turn_while_another_refresh_runs(
    pg: Services, caplog: pytest.LogCaptureFixture
) -> None:
    settings = pg.settings.model_copy(update={"insights_refresh_interval": 0.01})
    caplog.set_level(logging.INFO, logger="gateway.insights")
    async with refresh_under_way(pg):
        task = asyncio.create_task(refresh_periodically(pg.sessions, settings))
        while "skipped" not in caplog.text:
            await asyncio.sleep(0.01)
        assert not task.done()  # the schedule goes on
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert "another one is running" in caplog.text
    assert "failed" not in caplog.text
    assert await traits_rows(pg) == 0


async def test_the_command_exits_with_tempfail_while_another_refresh_runs(
    pg: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_DATABASE_URL", pg.settings.database_url)
    monkeypatch.setenv("CG_CACHE_ENABLED", "false")
    async with refresh_under_way(pg):
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["insights", "refresh"]
        )
    assert result.exit_code == EX_TEMPFAIL, result.output
    assert "Another insights refresh is running" in result.output
    assert await traits_rows(pg) == 0

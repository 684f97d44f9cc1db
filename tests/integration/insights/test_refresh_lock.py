"""One full refresh at a time across replicas (PostgreSQL advisory lock): a
second one is refused at once and writes nothing; the schedule skips a turn;
the command exits with EX_TEMPFAIL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli import app
from gateway.insights.cli import EX_TEMPFAIL
from gateway.insights.refresh import (
    REFRESH_LOCK,
    RefreshRunning,
    refresh_all,
    refresh_periodically,
)
from gateway.insights.sql import try_transaction_lock
from gateway.insights.tables import CustomerTraits
from gateway.services import Services
from tests.integration.insights.facts import NOW, add_customer


@pytest.fixture
async def pg(db: Services) -> Services:
    async with db.sessions() as session:
        if (await session.connection()).dialect.name != "postgresql":
            pytest.skip("advisory locks are PostgreSQL's; SQLite has one writer")
    await add_customer(db, "ada@example.com")
    return db


@asynccontextmanager
async def refresh_under_way(db: Services) -> AsyncIterator[None]:
    """Hold the refresh lock as a running refresh (on another replica) would."""
    async with db.sessions() as session, session.begin():
        assert await try_transaction_lock(session, REFRESH_LOCK)
        yield


async def traits_rows(db: Services) -> int:
    async with db.sessions() as session:
        found = await session.scalar(select(func.count()).select_from(CustomerTraits))
    return int(found or 0)


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

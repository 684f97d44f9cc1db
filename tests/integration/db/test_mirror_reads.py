"""The event mirror's reads take a person's last event from the index's newest
end and their window and sessions from the days those cover
(``gateway.mirror.reads``): a long history before them is never read. Counted
on PostgreSQL by the tuples the transaction read
(``pg_stat_xact_user_tables``); the answers checked on both databases,
against a person with a long history and more persons than a statement
takes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.db.models import PostHogEvent
from gateway.db.session import create_engine
from gateway.mirror import reads

NOW = datetime(2026, 12, 1, tzinfo=UTC)
HISTORY = 3_000
"""Events of the long history, all older than ``ACTIVITY_DAYS``."""
RECENT = 12
"""Events of the last days, in ``RECENT // 3`` sessions."""


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def event_row(person: str, at: datetime, session: str) -> dict[str, object]:
    return {
        "uuid": str(uuid.uuid4()),
        "distinct_id": person,
        "event": "$pageview",
        "occurred_at": at,
        "url": "https://shop.example/p",
        "path": "/p",
        "session_id": session,
        "properties": {},
        "via": "backfill",
    }


async def heavy_person(engine: AsyncEngine) -> str:
    """A person with ``HISTORY`` events 91–132 days old and ``RECENT`` newer."""
    person = f"heavy-{uuid.uuid4()}"
    old = [
        event_row(person, NOW - timedelta(days=91, minutes=i * 20), f"old-{i // 10}")
        for i in range(HISTORY)
    ]
    recent = [
        event_row(person, NOW - timedelta(hours=i + 1), f"recent-{i // 3}")
        for i in range(RECENT)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(PostHogEvent), old + recent)
    return person


async def test_a_long_history_is_not_read_for_a_window_or_a_summary(
    engine: AsyncEngine,
) -> None:
    person = await heavy_person(engine)
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # the planner knows the long history, as autovacuum would tell it
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE posthog_events"))
    async with AsyncSession(engine) as session, session.begin():
        before = await _tuples_read(session) if postgres else 0
        found = await reads.activity(session, [person], limit=6, now=NOW)
        read = await _tuples_read(session) - before if postgres else 0
    window = found[person]
    assert [e.occurred_at for e in window.events] == [
        NOW - timedelta(hours=i + 1) for i in range(6)
    ]
    assert window.summary.last_seen == NOW - timedelta(hours=1)
    assert window.summary.sessions == RECENT // 3
    if postgres:
        # the last event (1) and the sessions since 30 days (RECENT); the
        # window's ids from the last 90 days at most (RECENT), then its 6
        # events; the checks' table holds no row of theirs
        assert read <= 1 + RECENT + RECENT + 6, read


async def test_more_persons_than_a_statement_takes_are_read_in_chunks(
    engine: AsyncEngine,
) -> None:
    persons = [f"chunked-{uuid.uuid4()}-{i}" for i in range(reads.CHUNK + 7)]
    rows = [
        event_row(p, NOW - timedelta(hours=h + 1), f"s-{p}-{h}")
        for p in persons
        for h in range(3)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(PostHogEvent), rows)
    async with AsyncSession(engine) as session:
        found = await reads.activity(
            session, [*persons, "nobody-at-all"], limit=2, now=NOW
        )
    assert set(found) == set(persons)
    for person in persons:
        assert [e.occurred_at for e in found[person].events] == [
            NOW - timedelta(hours=1),
            NOW - timedelta(hours=2),
        ]
        assert found[person].summary.sessions == 3


async def _tuples_read(session: AsyncSession) -> int:
    """Tuples this transaction read from the mirror's events, by any scan."""
    counted = await session.scalar(
        text(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
            " FROM pg_stat_xact_user_tables WHERE relname = 'posthog_events'"
        )
    )
    return int(counted or 0)

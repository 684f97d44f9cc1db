"""SQLite's statements take one trip each to aiosqlite's thread, and a read's
connection goes back to the pool without one (``gateway.db.sqlite_trips``);
what SQLAlchemy reads of a cursor (rows, their names, row counts, new ids,
errors, streamed results) is as with its own adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db.session import create_engine

METADATA = MetaData()
ITEMS = Table(
    "items",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
)


class Trips:
    """Calls made in aiosqlite's threads, counted."""

    def __init__(self) -> None:
        self.count = 0

    async def taken(self, work: Callable[[], Awaitable[Any]]) -> int:
        before = self.count
        await work()
        return self.count - before


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Trips:
    counted = Trips()
    execute = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *a: Any, **kw: Any) -> Any:
        counted.count += 1
        return await execute(self, fn, *a, **kw)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return counted


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
        await connection.execute(insert(ITEMS), [{"name": "a"}, {"name": "b"}])
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def test_a_read_is_one_trip_and_its_connection_returns_without_one(
    sessions: async_sessionmaker[AsyncSession], trips: Trips
) -> None:
    async with sessions() as session:
        await session.execute(select(ITEMS))  # the pool's connection is warm
    session = sessions()
    read = await trips.taken(lambda: session.execute(select(ITEMS.c.name)))
    closed = await trips.taken(session.close)
    assert (read, closed) == (1, 0)


async def test_a_write_is_one_trip_and_its_commit_another(
    sessions: async_sessionmaker[AsyncSession], trips: Trips
) -> None:
    async with sessions() as session:
        await session.execute(select(ITEMS))

        async def write() -> None:
            await session.execute(insert(ITEMS).values(name="c"))
            await session.commit()

        assert await trips.taken(write) == 2


async def test_a_read_only_transaction_commits_without_a_trip(
    sessions: async_sessionmaker[AsyncSession], trips: Trips
) -> None:
    async with sessions() as session:
        await session.execute(select(ITEMS))  # the pool's connection is warm

    async def read() -> None:
        async with sessions() as session, session.begin():
            await session.execute(select(ITEMS.c.name))

    assert await trips.taken(read) == 1


async def test_a_savepoint_rolled_back_keeps_what_came_before_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        async with session.begin():
            await session.execute(insert(ITEMS).values(name="kept"))
            savepoint = await session.begin_nested()
            await session.execute(insert(ITEMS).values(name="undone"))
            await savepoint.rollback()
        names = set(await session.scalars(select(ITEMS.c.name)))
    assert names == {"a", "b", "kept"}


async def test_a_write_left_uncommitted_is_rolled_back_on_close(
    sessions: async_sessionmaker[AsyncSession], trips: Trips
) -> None:
    session = sessions()
    await session.execute(insert(ITEMS).values(name="never"))
    assert await trips.taken(session.close) == 1
    async with sessions() as session:
        names = set(await session.scalars(select(ITEMS.c.name)))
    assert names == {"a", "b"}


async def test_rows_names_counts_and_new_ids_read_as_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        found = await session.execute(select(ITEMS).order_by(ITEMS.c.id))
        assert list(found.keys()) == ["id", "name"]
        assert [tuple(r) for r in found] == [(1, "a"), (2, "b")]
        none = await session.execute(select(ITEMS).where(ITEMS.c.name == "z"))
        assert (list(none.keys()), none.all()) == (["id", "name"], [])
        changed = await session.execute(update(ITEMS).values(name=ITEMS.c.name + "!"))
        assert changed.rowcount == 2  # type: ignore[attr-defined]
        added = await session.execute(insert(ITEMS).values(name="c"))
        assert added.inserted_primary_key == (3,)
        many = await session.execute(insert(ITEMS), [{"name": "d"}, {"name": "e"}])
        assert many.rowcount == 2  # type: ignore[attr-defined]
        returned = await session.execute(
            insert(ITEMS).values(name="f").returning(ITEMS.c.id)
        )
        assert returned.scalar_one() == 6
        several = await session.execute(
            insert(ITEMS).returning(ITEMS.c.id, ITEMS.c.name),
            [{"name": "g"}, {"name": "h"}],
        )
        assert [tuple(r) for r in several] == [(7, "g"), (8, "h")]


async def test_a_refused_statement_raises_sqlalchemys_error_and_the_connection_goes_on(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            await session.execute(insert(ITEMS).values(name="a"))
        await session.rollback()
        assert await session.scalar(select(ITEMS.c.name).where(ITEMS.c.id == 2)) == "b"


async def test_streamed_results_still_come_through_a_cursor_of_their_own(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        streamed = await session.stream(select(ITEMS.c.name).order_by(ITEMS.c.id))
        assert [row.name async for row in streamed] == ["a", "b"]

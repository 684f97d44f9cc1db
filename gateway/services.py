"""Long-lived services shared by all requests, opened and closed by the app's
lifespan: the settings, the database engine and its session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.db.session import create_engine, session_factory
from gateway.settings import Settings


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    engine = create_engine(settings.database_url)
    try:
        yield Services(
            settings=settings, engine=engine, sessions=session_factory(engine)
        )
    finally:
        await engine.dispose()

"""Long-lived services shared by all requests, opened and closed by the app's
lifespan: the settings, the database engine and its session factory, the
upstream connectors, the cache of their results and the change bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway import metrics
from gateway.cache import open_backend
from gateway.caches import UpstreamCaches, build_caches
from gateway.changes import ChangeBus
from gateway.db.session import create_engine, session_factory
from gateway.feed import ChangeFeed
from gateway.invalidation import Invalidator
from gateway.settings import Settings
from gateway.upstreams import Upstreams, build_upstreams


@dataclass(slots=True)
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    upstreams: Upstreams = field(default_factory=Upstreams)
    changes: ChangeBus = field(default_factory=ChangeBus)
    caches: UpstreamCaches | None = None
    feed: ChangeFeed | None = None
    """Changes for live subscriptions, shared across replicas through Redis."""


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    engine = create_engine(settings.database_url)
    upstreams = build_upstreams(settings, observer=metrics.observe_upstream)
    services = Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        upstreams=upstreams,
    )
    if settings.cache_enabled:
        backend = open_backend(settings.redis_url, settings.cache_max_entries)
        services.caches = build_caches(backend, settings)
        services.changes.subscribe_batch(
            Invalidator(services.sessions, services.caches)
        )
    services.feed = ChangeFeed(
        services.changes, settings.redis_url, f"{settings.cache_prefix}:changes"
    )
    await services.feed.start()
    try:
        yield services
    finally:
        await services.feed.aclose()
        if services.caches is not None:
            await services.caches.aclose()
        await upstreams.aclose()
        await engine.dispose()

"""Gateway services wired to the loopback simulators, for tests that need real
upstreams, webhook secrets and a change bus of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from gateway.changes import CustomerChange
from gateway.services import Services
from gateway.simulation import Simulators
from gateway.upstreams import build_upstreams


@asynccontextmanager
async def services_on(
    simulators: Simulators, db: Services, **settings: Any
) -> AsyncIterator[Services]:
    """``db``'s engine with settings pointing at ``simulators`` (``settings``
    override them, e.g. ``shopify_api_secret=None``)."""
    configured = simulators.settings(db.settings).model_copy(update=settings)
    upstreams = build_upstreams(configured)
    try:
        yield Services(
            settings=configured,
            engine=db.engine,
            sessions=db.sessions,
            upstreams=upstreams,
        )
    finally:
        await upstreams.aclose()


def record_changes(services: Services) -> list[CustomerChange]:
    """Every change published on ``services.changes`` from now on."""
    changes: list[CustomerChange] = []

    async def subscriber(change: CustomerChange) -> None:
        changes.append(change)

    services.changes.subscribe(subscriber)
    return changes


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(model).where(*where)
        )
    return int(found or 0)

"""Gateway services wired to the loopback simulators, for tests that need real
upstreams, webhook secrets and a change bus of their own."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.db import models
from gateway.demo.simulation import Simulators
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams, build_upstreams
from gateway.settings import Settings


@asynccontextmanager
async def connectors_for(simulators: Simulators) -> AsyncIterator[Upstreams]:
    """Connectors to the simulators, built once per module: building them
    (three HTTP clients) costs more than most of these tests."""
    upstreams = build_upstreams(simulators.settings(Settings()))
    try:
        yield upstreams
    finally:
        await upstreams.aclose()


def services_on(
    simulators: Simulators, db: Services, upstreams: Upstreams, **settings: Any
) -> Services:
    """``db``'s engine with settings pointing at ``simulators`` (``settings``
    override them, e.g. ``shopify_api_secret=None``) and a fresh change bus."""
    configured = simulators.settings(db.settings).model_copy(update=settings)
    return dataclasses.replace(
        db, settings=configured, upstreams=upstreams, changes=ChangeBus(), caches=None
    )


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


async def customer_id_by_email(services: Services, email: str) -> int:
    """Our id of the customer with ``email``; there must be one."""
    async with services.sessions() as session:
        found = await session.scalar(
            select(models.Customer.id).where(models.Customer.email == email)
        )
    assert found is not None
    return int(found)

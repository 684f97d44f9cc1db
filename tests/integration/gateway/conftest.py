"""Fixtures for gateway tests that reach the upstream simulators over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from starlette.types import ASGIApp

from bench.redis_server import RedisServer
from connectors.demo_world import World
from gateway.app import create_app
from gateway.demo.seed import seed
from gateway.demo.simulation import GENEROUS, Simulators, simulated_upstreams
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings
from tests.conftest import ADMIN, GraphQL
from tests.servers import REDIS_KINDS


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=42, size=60)


@pytest.fixture(scope="session")
async def simulators(world: World) -> AsyncIterator[Simulators]:
    """One set for the whole session: thousands of tests' HogQL queries exceed
    PostHog's hourly budget, so it is raised here (tests of the budget build
    their own simulator)."""
    async with simulated_upstreams(world, posthog_queries_per_hour=GENEROUS) as running:
        yield running


@dataclass
class Gateway:
    services: Services
    simulators: Simulators
    world: World
    http: httpx.AsyncClient
    app: ASGIApp
    """What ``http`` sends to: for a test that watches the exchange itself
    (``http`` returns once the app has returned)."""

    async def gql(self, query: str, variables: dict[str, object] | None = None) -> dict:
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}
        )
        assert response.status_code == 200, response.text
        body: dict = response.json()
        return body


@asynccontextmanager
async def open_gateway(
    settings: Settings, simulators: Simulators, world: World
) -> AsyncIterator[Gateway]:
    """A gateway app (one replica) over ``settings`` pointed at the simulators."""
    async with open_services(simulators.settings(settings)) as services:
        app = create_app(services=services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=ADMIN
        ) as http:
            yield Gateway(services, simulators, world, http, app)


@pytest.fixture
async def seeded(db: Services, world: World) -> Services:
    await seed(db.sessions, world)
    return db


@pytest.fixture
async def gateway(
    seeded: Services, simulators: Simulators, world: World
) -> AsyncIterator[Gateway]:
    """The gateway over the seeded world, its upstreams the simulators, with the
    in-process cache."""
    async with open_gateway(seeded.settings, simulators, world) as opened:
        simulators.reset_counts()
        yield opened
        simulators.heal()


@pytest.fixture
async def gateway_on_own_redis(
    seeded: Services,
    simulators: Simulators,
    world: World,
    redis_server: RedisServer,
    cache_prefix: str,
) -> AsyncIterator[Gateway]:
    """The gateway over a Redis server of the test's own, to stop, restart or
    flush without reaching another test (a ``SCRIPT FLUSH`` of the shared
    server made another worker's counted view load its scripts again)."""
    settings = seeded.settings.model_copy(
        update={"redis_url": redis_server.url, "cache_prefix": cache_prefix}
    )
    async with open_gateway(settings, simulators, world) as opened:
        yield opened
        simulators.heal()


@pytest.fixture(params=["memory", *REDIS_KINDS])
async def cached(
    request: pytest.FixtureRequest,
    seeded: Services,
    simulators: Simulators,
    world: World,
    cache_prefix: str,
) -> AsyncIterator[Gateway]:
    """A gateway of this test's own cache prefix: with the in-process cache,
    the real Redis, and a Redis Cluster."""
    settings = seeded.settings.model_copy(update={"cache_prefix": cache_prefix})
    if request.param != "memory":
        url = request.getfixturevalue(REDIS_KINDS[request.param])
        settings = settings.model_copy(update={"redis_url": url})
    async with open_gateway(settings, simulators, world) as gateway:
        simulators.reset_counts()
        yield gateway
        simulators.heal()


@pytest.fixture
async def replicas(
    request: pytest.FixtureRequest,
    seeded: Services,
    simulators: Simulators,
    world: World,
    redis_url: str,
    cache_prefix: str,
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two gateway replicas sharing the real Redis (this test's own prefix);
    an indirect ``request.param``: settings to change on both."""
    update = {"redis_url": redis_url, "cache_prefix": cache_prefix}
    update.update(getattr(request, "param", {}))
    settings = seeded.settings.model_copy(update=update)
    async with (
        open_gateway(settings, simulators, world) as first,
        open_gateway(settings, simulators, world) as second,
    ):
        yield first, second


__all__ = ["GraphQL"]

"""Fixtures of the webhook tests: each module declares a small ``WORLD`` of its
own (its deliveries change the simulators' state), served by simulators that
live as long as the module, and seeded into a fresh database for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.demo_world import World
from gateway.demo.seed import seed
from gateway.demo.simulation import Simulators, simulated_upstreams
from gateway.runtime.services import Services
from gateway.runtime.upstreams import Upstreams
from tests.integration.gateway.simulated import connectors_for, services_on


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest) -> World:
    declared: World = request.module.WORLD
    return declared


@pytest.fixture(scope="module")
async def simulators(world: World) -> AsyncIterator[Simulators]:
    async with simulated_upstreams(world) as running:
        yield running


@pytest.fixture(scope="module")
async def upstreams(simulators: Simulators) -> AsyncIterator[Upstreams]:
    async with connectors_for(simulators) as built:
        yield built


@pytest.fixture
async def wired(
    world: World, simulators: Simulators, db: Services, upstreams: Upstreams
) -> Services:
    """The seeded database's services pointed at the simulators, with a change
    bus of their own."""
    await seed(db.sessions, world)
    return services_on(simulators, db, upstreams)

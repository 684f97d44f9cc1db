"""One suite, every connector: each simulator is served over real HTTP on
loopback and its connector must send credentials, page to the end, retry a 429,
stop at a 401 and answer ``None`` for a deleted id; a source of customers'
data erases one for good, and a repeated erasure is done. Adding a connector
is one line in ``HARNESSES``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.base import ErasingConnector
from connectors.demo_world import World
from connectors.errors import UpstreamAuthError
from connectors.simulator_server import serve_app
from tests.integration.connectors.harness import ConnectorHarness
from tests.integration.connectors.harness_klaviyo import HARNESS as KLAVIYO
from tests.integration.connectors.harness_posthog import HARNESS as POSTHOG
from tests.integration.connectors.harness_shopify import HARNESS as SHOPIFY
from tests.integration.connectors.harness_zendesk import HARNESS as ZENDESK

HARNESSES: list[ConnectorHarness] = [SHOPIFY, ZENDESK, POSTHOG, KLAVIYO]


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=5, size=40)


@pytest.fixture(params=HARNESSES, ids=lambda h: h.name)
def harness(request: pytest.FixtureRequest) -> ConnectorHarness:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def upstream(
    harness: ConnectorHarness, world: World
) -> AsyncIterator[tuple[Any, str]]:
    simulator = harness.simulator(world)
    async with serve_app(harness.app(simulator)) as base_url:
        yield simulator, base_url


@pytest.fixture
async def connector(
    harness: ConnectorHarness, upstream: tuple[Any, str]
) -> AsyncIterator[Any]:
    simulator, base_url = upstream
    client = harness.connector(simulator, base_url)
    yield client
    await client.aclose()


async def test_the_connector_sends_its_credentials(
    harness: ConnectorHarness, upstream: tuple[Any, str], connector: Any
) -> None:
    simulator, _ = upstream
    await connector.customers_by_ids([harness.existing_id(simulator)])
    assert harness.credentials_seen(simulator)


async def test_a_list_spanning_several_pages_is_read_to_the_end(
    harness: ConnectorHarness, upstream: tuple[Any, str], connector: Any
) -> None:
    simulator, _ = upstream
    read, existing = await harness.read_long_list(simulator, connector)
    assert existing > 3
    assert read == existing


async def test_a_429_is_retried_and_the_read_succeeds(
    harness: ConnectorHarness, upstream: tuple[Any, str], connector: Any
) -> None:
    simulator, _ = upstream
    harness.fail_next(simulator, 429)
    found = await connector.customers_by_ids([harness.existing_id(simulator)])
    assert found[0] is not None
    assert harness.requests(simulator) == 2


async def test_a_401_is_fatal_and_not_retried(
    harness: ConnectorHarness, upstream: tuple[Any, str]
) -> None:
    simulator, base_url = upstream
    client = harness.connector(simulator, base_url, valid_auth=False)
    with pytest.raises(UpstreamAuthError):
        await client.customers_by_ids([harness.existing_id(simulator)])
    await client.aclose()
    assert harness.requests(simulator) == 1


async def test_a_deleted_id_comes_back_as_none_in_its_place(
    harness: ConnectorHarness, upstream: tuple[Any, str], connector: Any
) -> None:
    simulator, _ = upstream
    existing, deleted = harness.existing_id(simulator), harness.deleted_id(simulator)
    found = await connector.customers_by_ids([deleted, existing])
    assert found[0] is None
    assert found[1] is not None
    assert found[1].external_id == existing


async def test_an_erased_customer_is_gone_and_erasing_again_is_done(
    harness: ConnectorHarness, upstream: tuple[Any, str], connector: Any
) -> None:
    if not isinstance(connector, ErasingConnector):
        pytest.skip("not a source of customers' data: nothing to erase there")
    simulator, _ = upstream
    existing = harness.existing_id(simulator)
    assert existing in await connector.erase_customer(existing)
    assert existing in await connector.erase_customer(existing)  # a retry
    assert await connector.customers_by_ids([existing]) == [None]

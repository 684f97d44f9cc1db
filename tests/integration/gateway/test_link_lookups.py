"""Links looked up for two requests at once, when the look-ups fail: one
request's key held by the other's look-up in flight, which fails too. Each key
answers its source's error — a coded upstream error on its fields — never
an internal error for the whole batch (the soak met that as
INTERNAL_SERVER_ERROR on every upstream field of a view: docs/benchmarks.md,
*Soak*)."""

from __future__ import annotations

import asyncio

from connectors.base import Connector
from connectors.errors import ConnectorError
from gateway.loaders.upstream import (
    ExternalIdByCustomerLoader,
    LinkLookupFailed,
    SourceLink,
)
from tests.integration.gateway.conftest import Gateway


async def test_a_held_look_up_that_fails_answers_each_key_its_sources_error(
    gateway: Gateway,
) -> None:
    services, simulators = gateway.services, gateway.simulators
    upstreams = services.upstreams
    connectors: dict[str, Connector] = {
        c.name: c for c in (upstreams.shopify, upstreams.zendesk) if c is not None
    }
    assert services.caches is not None

    def request() -> ExternalIdByCustomerLoader:
        return ExternalIdByCustomerLoader(
            services.sessions,
            connectors,
            services.caches.links,
            rules=services.match_rules,
            recheck_after=600,
        )

    simulators.zendesk.latency = 1.0
    simulators.zendesk.fail_next(100, status=503)
    simulators.shopify.fail_next(100, status=503)
    try:
        other = asyncio.ensure_future(request().load(SourceLink("zendesk", 3)))
        await asyncio.sleep(0.2)  # its look-up of zendesk:3 is in flight
        mine = request()
        answers = await asyncio.gather(
            mine.load(SourceLink("shopify", 4)),
            mine.load(SourceLink("zendesk", 3)),
            return_exceptions=True,
        )
        await asyncio.gather(other, return_exceptions=True)
    finally:
        simulators.zendesk.latency = 0.0
    errors = [a for a in answers if isinstance(a, ConnectorError)]
    assert [e.connector for e in errors] == ["shopify", "zendesk"], answers
    assert not any(isinstance(a, LinkLookupFailed) for a in answers)

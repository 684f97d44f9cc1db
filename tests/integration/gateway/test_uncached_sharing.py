"""With the cache off (``CG_CACHE_ENABLED=false``), concurrent 360 views of one
customer send each upstream read once (``UpstreamHTTP.share_reads``), and
every role still gets exactly the answer it gets alone: the upstreams' answers
are shared, masking and refusals are each request's own. With the loaders off
too (the benchmark's baseline) nothing is shared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from bench.queries import CUSTOMER_360
from bench.subject import Subject, richest_customer
from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, Role
from tests.integration.gateway.conftest import Gateway, open_gateway

pytestmark = pytest.mark.storage_independent

LATENCY = 0.2
"""Each simulator's answer held this long: the views' reads overlap."""


@pytest.fixture
def subject(gateway: Gateway) -> Subject:
    return richest_customer(gateway.world, gateway.simulators)


@pytest.fixture
def slow(gateway: Gateway) -> Iterator[None]:
    simulators = gateway.simulators.by_source().values()
    before = [s.latency for s in simulators]
    for simulator in simulators:
        simulator.latency = LATENCY
    try:
        yield
    finally:
        for simulator, latency in zip(simulators, before, strict=True):
            simulator.latency = latency


async def keys(gateway: Gateway) -> dict[Role, dict[str, str]]:
    found = {}
    for role in sorted(GRANTABLE_ROLES):
        key, _ = await create_key(gateway.services.sessions, f"sharing-{role}", role)
        found[role] = {"Authorization": f"Bearer {key}"}
    return found


@pytest.fixture(params=[True, False], ids=["loaders", "no loaders"])
async def uncached(
    request: pytest.FixtureRequest, gateway: Gateway
) -> AsyncIterator[Gateway]:
    settings = gateway.services.settings.model_copy(
        update={"cache_enabled": False, "loaders_enabled": request.param}
    )
    async with open_gateway(settings, gateway.simulators, gateway.world) as opened:
        yield opened


def shared() -> dict[str, float]:
    """Reads answered by another's in flight so far, by connector."""
    return {
        source: REGISTRY.get_sample_value(
            "customer_graph_upstream_reads_shared_total", {"connector": source}
        )
        or 0.0
        for source in ("shopify", "zendesk", "posthog")
    }


async def view(gateway: Gateway, subject: Subject, headers: dict[str, str]) -> Any:
    response = await gateway.http.post(
        "/graphql",
        json={"query": CUSTOMER_360.document, "variables": {"id": subject.global_id}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_concurrent_views_share_each_read_and_each_role_gets_its_own_answer(
    uncached: Gateway, subject: Subject, slow: None
) -> None:
    by_role = await keys(uncached)
    alone = {role: await view(uncached, subject, h) for role, h in by_role.items()}
    assert "errors" not in alone[Role.ADMIN], alone[Role.ADMIN]
    simulators = uncached.simulators
    simulators.reset_counts()
    before = shared()

    asked = [role for role in by_role for _ in range(2)]
    answers = await asyncio.gather(
        *(view(uncached, subject, by_role[role]) for role in asked)
    )

    for role, answer in zip(asked, answers, strict=True):
        assert answer == alone[role], role
    sharing = uncached.services.settings.loaders_enabled
    calls = simulators.total_requests()
    # every view reads each source once: sent by it, or answered by another's
    assert {s: shared()[s] - before[s] + n for s, n in calls.items()} == dict.fromkeys(
        calls, len(asked)
    )
    if sharing:
        # A view joins the reads begun since its own began: the views of one
        # gather begin a few milliseconds apart, their reads a few later,
        # so the first views' reads may leave before the last views began
        # (one or two of each source's reads for the ten, on an idle machine).
        assert all(1 <= n <= len(asked) // 2 for n in calls.values()), calls
    else:  # every view reads each source itself
        assert all(n >= len(asked) for n in calls.values()), calls

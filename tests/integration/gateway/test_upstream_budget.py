"""Each upstream's budget: its shape from the vendor's limit, its token
bucket (Redis or in process, alike), spent by priority — background calls
only above the reserve, interactive ones down to the last token — and a call
the budget cannot cover never sent (counted at the simulator)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest

from connectors.demo_world import World
from connectors.errors import UpstreamBudgetSpent
from connectors.posthog.client import PostHogConnector
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.scope import Priority, call_scope
from connectors.simulator_server import serve_app
from gateway.guard.bucket import TokenBucket
from gateway.guard.budget import Budget, budgets
from gateway.guard.upstreams import build_guard
from gateway.settings import Settings
from gateway.shared_redis.client import SharedRedis


def test_a_windowed_budget_never_spends_more_than_its_share_in_a_window() -> None:
    shape = Budget.windowed(limit=120, window=3600, share=0.8)
    assert shape.capacity + shape.rate * 3600 == pytest.approx(96)
    assert shape.capacity == pytest.approx(24)  # a quarter at once


def test_the_budgets_follow_the_vendors_limits_and_the_share() -> None:
    shapes = budgets(
        Settings(
            upstream_budget_share=0.5,
            shopify_limit_points_per_second=100,
            shopify_limit_bucket_points=2000,
            zendesk_limit_per_minute=400,
        )
    )
    assert shapes["shopify"] == Budget(rate=50, capacity=1000)
    zendesk = shapes["zendesk"]
    assert zendesk.capacity + zendesk.rate * 60 == pytest.approx(200)


def test_a_faster_vendor_clock_refills_faster_and_bursts_the_same() -> None:
    """A soak compressing time K-fold (``CG_UPSTREAM_CLOCK_FACTOR``): each
    budget refills K times faster, its burst unchanged, so a simulated window
    (1/K of a real one) still holds no more than the share."""
    limits = {"zendesk_limit_per_minute": 700, "posthog_limit_queries_per_hour": 120}
    real = budgets(Settings(**limits))
    fast = budgets(Settings(**limits, upstream_clock_factor=30))
    for name in ("shopify", "zendesk", "posthog"):
        assert fast[name].rate == pytest.approx(real[name].rate * 30)
        assert fast[name].capacity == real[name].capacity
    zendesk = fast["zendesk"]
    assert zendesk.capacity + zendesk.rate * 60 / 30 == pytest.approx(560)


@pytest.fixture
async def posthog() -> AsyncIterator[tuple[PostHogSimulator, PostHogConnector]]:
    """PostHog behind a budget of 10 queries at once (40 an hour, all of it
    ours), half of it reserved for interactive reads; background calls may
    wait 0.2 s for it."""
    simulator = PostHogSimulator(
        World(seed=5, size=20), api_key="phx_budget", rate_limit_per_minute=100_000
    )
    settings = Settings(
        posthog_limit_queries_per_hour=40,
        upstream_budget_share=1.0,
        upstream_background_reserve=0.5,
        background_deadline_seconds=0.2,
    )
    async with serve_app(simulator.app) as url:
        connector = PostHogConnector(url, 1, "phx_budget")
        connector.http.guard = build_guard(settings, None, ["posthog"])
        yield simulator, connector
        await connector.aclose()


async def test_background_calls_stop_at_the_reserve_while_interactive_ones_pass(
    posthog: tuple[PostHogSimulator, PostHogConnector],
) -> None:
    simulator, connector = posthog
    person = next(iter(simulator.analytics.by_distinct_id))
    for _ in range(5):  # 10 → 5 queries left: the reserve
        await connector.activity_by_persons([person])
    with pytest.raises(UpstreamBudgetSpent) as refused:
        await connector.activity_by_persons([person])
    assert refused.value.code == "UPSTREAM_RATE_LIMITED"
    assert simulator.requests.total == 5  # not sent
    with call_scope(5.0, Priority.INTERACTIVE):
        for _ in range(5):  # the reserve is the interactive reads'
            await connector.activity_by_persons([person])
        with pytest.raises(UpstreamBudgetSpent):
            await connector.activity_by_persons([person])
    assert simulator.requests.total == 10


async def test_a_persons_read_costs_nothing_against_the_query_budget(
    posthog: tuple[PostHogSimulator, PostHogConnector],
) -> None:
    simulator, connector = posthog
    person = next(iter(simulator.analytics.by_distinct_id))
    with call_scope(5.0, Priority.INTERACTIVE):
        for _ in range(12):
            assert (await connector.customers_by_ids([person]))[0] is not None
        await connector.activity_by_persons([person])  # the budget is whole
    assert simulator.requests.total == 13


@pytest.fixture(params=["memory", "redis"])
async def bucket_redis(
    request: pytest.FixtureRequest,
) -> AsyncIterator[SharedRedis | None]:
    if request.param == "memory":
        yield None
        return
    redis = SharedRedis.open(request.getfixturevalue("redis_url"), timeout=1.0)
    yield redis
    await redis.aclose()


async def test_a_bucket_takes_costs_above_a_floor_and_settles_both_ways(
    bucket_redis: SharedRedis | None, cache_prefix: str
) -> None:
    bucket = TokenBucket(
        rate=0.001, capacity=10, redis=bucket_redis, prefix=cache_prefix
    )
    assert await bucket.take("k", cost=4, floor=5) == 0  # 10 → 6
    assert await bucket.take("k", cost=4, floor=5) > 0  # would leave 2 < 5
    assert await bucket.take("k", cost=4) == 0  # 6 → 2: no floor
    await bucket.adjust("k", -3)  # the call cost 3 less: 5
    assert await bucket.take("k", cost=5) == 0
    await bucket.adjust("k", 2)  # it cost 2 more: -2, a debt
    assert await bucket.take("k", cost=1) > 0
    assert await bucket.take("k", cost=11) == math.inf  # more than it ever holds

"""Each upstream's budget: its shape from the vendor's limit, its token
bucket (Redis or in process, alike), spent by priority — background calls
only above their reserve, fallback reads above theirs, interactive ones down
to the last token — an endpoint's own limit spent beside its upstream's, and
a call the budget cannot cover never sent (counted at the simulator)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import TimeoutError as RedisTimeout

from connectors.demo_world import World
from connectors.errors import UpstreamBudgetSpent
from connectors.klaviyo.client import KlaviyoConnector
from connectors.klaviyo.limits import ENDPOINTS as KLAVIYO_ENDPOINTS
from connectors.klaviyo.limits import Limit
from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.posthog.client import PostHogConnector
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.scope import Priority, at_most, call_scope
from connectors.simulator_server import serve_app
from gateway.guard.bucket import TokenBucket, take_all
from gateway.guard.budget import Budget, budgets
from gateway.guard.upstreams import UpstreamGuard, build_guard
from gateway.settings import Settings
from gateway.shared_redis.client import SharedRedis
from tests.servers import REDIS_KINDS


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
            zendesk_search_limit_per_minute=2500,
        )
    )
    assert shapes["shopify"] == Budget(rate=50, capacity=1000)
    zendesk = shapes["zendesk"]
    assert zendesk.capacity + zendesk.rate * 60 == pytest.approx(200)
    search = shapes["zendesk.search"]
    assert search.capacity + search.rate * 60 == pytest.approx(1250)


def test_a_fallback_reserve_above_the_background_one_counts_as_that_one() -> None:
    settings = Settings(upstream_fallback_reserve=0.3, upstream_background_reserve=0.2)
    guard = build_guard(settings, None, ["posthog"])
    assert guard.reserves[Priority.FALLBACK] == guard.reserves[Priority.BACKGROUND]


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
    ours): background calls leave half of it, fallback reads a fifth;
    background calls may wait 2 s for it (a query refills in two minutes)."""
    simulator = PostHogSimulator(
        World(seed=5, size=20), api_key="phx_budget", rate_limit_per_minute=100_000
    )
    settings = Settings(
        posthog_limit_queries_per_hour=40,
        upstream_budget_share=1.0,
        upstream_background_reserve=0.5,
        upstream_fallback_reserve=0.2,
        background_deadline_seconds=2.0,
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


async def spend_until_refused(connector: PostHogConnector, person: str) -> None:
    """Read until the guard refuses a query."""
    try:
        while True:
            await connector.activity_by_persons([person])
    except UpstreamBudgetSpent:
        return


async def test_each_class_stops_at_its_reserve_the_fallback_between_the_others(
    posthog: tuple[PostHogSimulator, PostHogConnector],
) -> None:
    simulator, connector = posthog
    person = next(iter(simulator.analytics.by_distinct_id))
    sent = []
    for priority in (Priority.BACKGROUND, Priority.FALLBACK, Priority.INTERACTIVE):
        with call_scope(5.0, Priority.INTERACTIVE), at_most(priority):
            await spend_until_refused(connector, person)
        sent.append(simulator.requests.total)
    assert sent == [5, 8, 10]  # 10 → 5 (background), → 2 (fallback), → 0


async def test_a_fallback_read_of_background_work_stays_background(
    posthog: tuple[PostHogSimulator, PostHogConnector],
) -> None:
    simulator, connector = posthog
    person = next(iter(simulator.analytics.by_distinct_id))
    with at_most(Priority.FALLBACK):
        await spend_until_refused(connector, person)
    assert simulator.requests.total == 5


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


@pytest.fixture(params=["memory", *REDIS_KINDS])
async def bucket_redis(
    request: pytest.FixtureRequest,
) -> AsyncIterator[SharedRedis | None]:
    if request.param == "memory":
        yield None
        return
    url = request.getfixturevalue(REDIS_KINDS[request.param])
    redis = SharedRedis.open(url, timeout=1.0)
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


async def test_buckets_taken_together_are_all_taken_or_none(
    bucket_redis: SharedRedis | None, cache_prefix: str
) -> None:
    """One command on Redis (the buckets share a slot on a cluster), the
    same answers in process."""
    account, search = (
        TokenBucket(0.001, capacity, bucket_redis, cache_prefix, slot="zendesk")
        for capacity in (3, 2)
    )
    assert await take_all([(account, "a", 1, 0), (search, "s", 2, 0)]) == (0, 0)
    index, wait = await take_all([(account, "a", 1, 0), (search, "s", 1, 0)])
    assert (index, wait) == (1, pytest.approx(1000, rel=0.01))  # search: 0 left
    assert await account.take("a", 2) == 0  # the account's token was not kept
    index, wait = await take_all([(account, "a", 1, 0), (search, "s", 0, 0)])
    assert (index, wait) == (0, pytest.approx(1000, rel=0.01))  # account: 0 left
    assert await take_all([(account, "a", 4, 0)]) == (0, math.inf)  # never


async def level_on_redis(redis: SharedRedis, bucket: TokenBucket, key: str) -> float:
    """What a bucket holds on Redis now, refilled since its last take."""
    stored = await redis.client.hmget(f"{bucket.prefix}:{key}", ["t", "at"])
    tokens, at = (float(v) for v in stored)
    return min(bucket.capacity, tokens + (time.time() - at) * bucket.rate)


async def repaid(
    redis: SharedRedis, bucket: TokenBucket, key: str, level: float
) -> None:
    """Wait until the breaker closed and ``key`` holds ``level`` on Redis."""
    await redis.breaker.wait_closed()
    for _ in range(200):
        if await level_on_redis(redis, bucket, key) == pytest.approx(level, abs=0.1):
            return
        await asyncio.sleep(0.01)
    assert await level_on_redis(redis, bucket, key) == pytest.approx(level, abs=0.1)


@pytest.fixture(params=list(REDIS_KINDS))
async def shared_redis(request: pytest.FixtureRequest) -> AsyncIterator[SharedRedis]:
    redis = SharedRedis.open(
        request.getfixturevalue(REDIS_KINDS[request.param]), timeout=1.0
    )
    yield redis
    await redis.aclose()


async def test_a_process_that_loses_redis_goes_on_from_the_shared_level(
    shared_redis: SharedRedis, cache_prefix: str
) -> None:
    """A blip (one slow reply opens the breaker) spends no burst twice: the
    buckets this process took from on Redis go on in process from the level
    Redis last answered — by ``take``, ``take_reading`` and ``take_all`` —
    not from a full bucket (two replicas would each spend one); and what it
    spent in process is taken from Redis's buckets when Redis is back."""
    account, search = (
        TokenBucket(0.001, capacity, shared_redis, cache_prefix, slot="zendesk")
        for capacity in (3, 2)
    )
    assert await account.take("k", cost=2) == 0  # 3 → 1
    assert (await account.take_reading("r", [f"{cache_prefix}:x"]))[0] == 0  # 3 → 2
    assert await take_all([(account, "a", 1, 0), (search, "s", 2, 0)]) == (0, 0)
    index, _ = await take_all([(account, "a", 1, 0), (search, "s", 1, 0)])
    assert index == 1  # refused: search has none left, the account 2
    breaker = shared_redis.breaker
    breaker.failed("bucket", ConnectionError("gone"))
    assert not breaker.closed  # from here on, in process
    assert await account.take("k") == 0  # 1 → 0
    assert await account.take("k") > 0
    assert (await account.take_reading("r", ["x"]))[0] == 0  # 2 → 1
    assert await account.take("r", cost=2) > 0
    assert await take_all([(account, "a", 2, 0)]) == (0, 0)  # 2 → 0
    assert (await take_all([(account, "a", 1, 0)]))[1] > 0
    assert (await take_all([(search, "s", 1, 0)]))[1] > 0

    # the probe found Redis: what was drawn down in process repaid
    for key, level in {"k": 0.0, "r": 1.0, "a": 0.0}.items():
        await repaid(shared_redis, account, key, level)
    assert await account.take("k") > 0  # on Redis again, and still spent


async def test_a_caller_within_its_rate_while_redis_was_skipped_owes_nothing(
    shared_redis: SharedRedis, cache_prefix: str
) -> None:
    """What a process spent in process, its own refill covered: nothing is
    taken from Redis when it is back (the refill is not repaid)."""
    bucket = TokenBucket(8, 3, shared_redis, cache_prefix)
    assert await bucket.take("k") == 0  # 3 → 2 on Redis
    shared_redis.breaker.failed("bucket", ConnectionError("gone"))
    assert await bucket.take("k") == 0  # 2 → 1 in process
    # the probe finds Redis after 0.25 s: 2 tokens' refill, full again
    await shared_redis.breaker.wait_closed()
    await asyncio.sleep(0.05)  # the recovery hooks ran
    assert await level_on_redis(shared_redis, bucket, "k") == pytest.approx(3)


async def test_a_take_whose_reply_came_too_late_is_not_repaid(
    shared_redis: SharedRedis, cache_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply slower than the timeout: Redis ran the take, and the process
    took it in process too; only what it took while Redis was skipped is
    repaid, not that take again."""
    bucket = TokenBucket(0.001, 5, shared_redis, cache_prefix)
    assert await bucket.take("k") == 0  # 5 → 4 on Redis
    script = bucket._script
    assert script is not None

    async def ran_then_timed_out(keys: list[str], args: list[float]) -> object:
        await script(keys, args)
        raise RedisTimeout("the reply came too late")

    monkeypatch.setattr(bucket, "_script", ran_then_timed_out)
    assert await bucket.take("k") == 0  # 4 → 3 on Redis; in process, 4 → 3
    monkeypatch.undo()
    assert not shared_redis.breaker.closed
    assert await bucket.take("k") == 0  # 3 → 2 in process, Redis skipped
    await repaid(shared_redis, bucket, "k", 2)  # 3 less the one take alone


def test_klaviyo_has_a_budget_per_endpoint_within_its_burst_and_its_minute() -> None:
    shapes = budgets(Settings(upstream_budget_share=0.8))
    edits = shapes["klaviyo.remove-from-list"]  # 10/s, 150/m
    assert edits.capacity == pytest.approx(8)
    assert edits.capacity + edits.rate * 60 == pytest.approx(120)
    jobs = shapes["klaviyo.bulk-subscribe"]  # 75/s, 750/m
    assert jobs.capacity == pytest.approx(60)
    assert jobs.capacity + jobs.rate * 60 == pytest.approx(600)


async def test_a_klaviyo_endpoint_past_its_budget_is_not_sent_the_others_are() -> None:
    generous = {name: Limit(100_000, 100_000) for name in KLAVIYO_ENDPOINTS}
    simulator = KlaviyoSimulator(api_key="pk_budget", limits=generous)
    guard = build_guard(Settings(upstream_budget_share=0.8), None, ["klaviyo"])
    assert set(guard.breakers) == {"klaviyo"}
    list_id = next(iter(simulator.account.lists))
    async with serve_app(simulator.app) as url:
        connector = KlaviyoConnector(url, "pk_budget")
        connector.http.guard = guard
        with call_scope(5.0, Priority.INTERACTIVE):
            for _ in range(8):
                await connector.remove_from_list(list_id, ["01X"])
        # the next token is half a second away: more than half of 0.2 s
        with (
            call_scope(0.2, Priority.INTERACTIVE),
            pytest.raises(UpstreamBudgetSpent),
        ):
            await connector.remove_from_list(list_id, ["01X"])
        with call_scope(5.0, Priority.INTERACTIVE):
            assert len(await connector.lists()) == 3
        await connector.aclose()
    assert simulator.requests["remove-from-list"] == 8
    assert simulator.requests["get-lists"] == 1


async def test_a_search_spends_its_own_budget_and_the_accounts_or_neither(
    bucket_redis: SharedRedis | None, cache_prefix: str
) -> None:
    guard = UpstreamGuard(
        {
            "zendesk": Budget(rate=0.001, capacity=3),
            "zendesk.search": Budget(rate=0.001, capacity=2),
        },
        {},
        redis=bucket_redis,
        prefix=cache_prefix,
        reserves=dict.fromkeys(Priority, 0.0),
        background_deadline=1.0,
    )

    async def admit(limit: str | None) -> None:
        deadline = time.monotonic() + 1.0
        await guard.admit("zendesk", 1, Priority.INTERACTIVE, deadline, limit=limit)

    await admit("search")
    await admit("search")  # account 3 → 1, search 2 → 0
    with pytest.raises(UpstreamBudgetSpent):
        await admit("search")  # search spent: the account's token given back
    await admit(None)  # account 1 → 0
    with pytest.raises(UpstreamBudgetSpent):
        await admit(None)
    await guard.buckets["zendesk.search"].adjust("zendesk.search", -2)
    with pytest.raises(UpstreamBudgetSpent):
        await admit("search")  # the account's spent: no search either
    assert await guard.buckets["zendesk.search"].take("zendesk.search", 2) == 0


async def test_a_call_dearer_than_the_whole_budget_waits_for_a_full_bucket_not_forever(
    bucket_redis: SharedRedis | None, cache_prefix: str
) -> None:
    """A Shopify document planned at 900 points against a budget of 800 (a
    share of a 1,000-point bucket): admitted when the bucket is full, then
    the bucket is empty."""
    guard = UpstreamGuard(
        {"shopify": Budget(rate=0.001, capacity=800)},
        {},
        redis=bucket_redis,
        prefix=cache_prefix,
        reserves=dict.fromkeys(Priority, 0.0),
        background_deadline=1.0,
    )
    deadline = time.monotonic() + 1.0
    await guard.admit("shopify", 900, Priority.INTERACTIVE, deadline)
    with pytest.raises(UpstreamBudgetSpent):
        await guard.admit("shopify", 1, Priority.INTERACTIVE, deadline)


async def test_an_interactive_read_waits_for_a_budget_short_for_a_moment(
    bucket_redis: SharedRedis | None, cache_prefix: str
) -> None:
    """The next token is 0.05 s away, well within half a 2 s deadline: the
    read waits for it instead of answering UPSTREAM_RATE_LIMITED; a fallback
    read in the same spot is not sent."""
    guard = UpstreamGuard(
        {"shopify": Budget(rate=20, capacity=1)},
        {},
        redis=bucket_redis,
        prefix=cache_prefix,
        reserves=dict.fromkeys(Priority, 0.0),
        background_deadline=1.0,
    )
    await guard.admit("shopify", 1, Priority.INTERACTIVE, time.monotonic() + 2.0)
    await guard.admit("shopify", 1, Priority.INTERACTIVE, time.monotonic() + 2.0)
    with pytest.raises(UpstreamBudgetSpent):
        await guard.admit("shopify", 1, Priority.FALLBACK, time.monotonic() + 2.0)


async def test_a_call_holds_what_the_upstream_reserves_while_it_runs(
    bucket_redis: SharedRedis | None, cache_prefix: str
) -> None:
    """Shopify reserves a query's requested cost while it runs: a document
    charged its last cost (100) with 850 more held passes a full budget of
    1,000 and takes 100; the next one finds 900, less than 950 with its hold."""
    guard = UpstreamGuard(
        {"shopify": Budget(rate=0.001, capacity=1000)},
        {},
        redis=bucket_redis,
        prefix=cache_prefix,
        reserves=dict.fromkeys(Priority, 0.0),
        background_deadline=1.0,
    )
    deadline = time.monotonic() + 1.0
    await guard.admit("shopify", 100, Priority.INTERACTIVE, deadline, hold=850)
    with pytest.raises(UpstreamBudgetSpent):
        await guard.admit("shopify", 100, Priority.INTERACTIVE, deadline, hold=850)
    await guard.admit("shopify", 100, Priority.INTERACTIVE, deadline)

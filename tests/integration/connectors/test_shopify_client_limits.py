"""The Shopify connector under Shopify's real limits, over HTTP: a batch Shopify
prices above its single-query limit is split (each half asked once), a
``THROTTLED`` answer is waited out for the time its ``throttleStatus`` gives,
and a missing access scope costs only the fields it guards."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from connectors import errors
from connectors.demo_world import World
from connectors.retry import RetryPolicy
from connectors.scope import Outcome, Priority
from connectors.shopify import admin_api, mapping, queries
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.simulator.bucket import LeakyBucket
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_server import serve_app

RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
Connect = Callable[..., ShopifyConnector]


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, size=60)


@pytest.fixture
def simulator(world: World) -> ShopifySimulator:
    return ShopifySimulator(world)


@pytest.fixture
def outcomes() -> Counter[str]:
    return Counter()


@pytest.fixture
async def connector(
    simulator: ShopifySimulator, outcomes: Counter[str]
) -> AsyncIterator[ShopifyConnector]:
    async with serve_app(simulator.app) as base_url:
        opened = ShopifyConnector(
            base_url,
            "shpat_demo",
            retry=RETRY,
            observer=lambda _, outcome: outcomes.update([outcome]),
        )
        yield opened
        await opened.aclose()


def with_orders(simulator: ShopifySimulator, count: int) -> list[str]:
    """``count`` customers that have orders, not deleted."""
    found = [
        str(simulator.store.customers[number]["id"])
        for number, orders in simulator.store.orders_by_customer.items()
        if orders
    ]
    assert len(found) >= count
    return found[:count]


def returned(simulator: ShopifySimulator) -> str:
    """A customer whose newest 10 orders include a return and fit the inline
    limits (no follow-up call)."""
    for number, orders in simulator.store.orders_by_customer.items():
        newest = sorted(orders, key=lambda o: o["_processed"], reverse=True)[:10]
        plain = all(
            len(o["lineItems"]) <= queries.INLINE_LINE_ITEMS
            and len(o["refunds"]) < queries.INLINE_REFUNDS
            for o in newest
        )
        if plain and any(o["returns"] for o in newest):
            return str(simulator.store.customers[number]["id"])
    raise AssertionError("no customer with a recent return")


async def test_customers_by_ids_are_planned_under_the_limit_with_a_margin(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    ids = [simulator.customer_gid(i % 60) for i in range(450)]
    found = await connector.customers_by_ids(ids)
    assert len(found) == 450
    # 225 ids a call: 900 points, 100 under Shopify's 1,000
    assert simulator.requests["graphql"] == 2


class Ledger:
    """A ``CallGuard`` that admits every call and writes down its charges."""

    background_deadline = 5.0

    def __init__(self) -> None:
        self.charged: list[float] = []
        self.settled: list[float] = []

    async def admit(
        self,
        connector: str,
        cost: float,
        priority: Priority,
        deadline: float,
        limit: str | None = None,
        hold: float = 0.0,
    ) -> None:
        self.charged.append(cost)

    async def settle(self, connector: str, extra: float) -> None:
        self.settled.append(extra)

    def record(self, connector: str, outcome: Outcome) -> None:
        pass


async def test_a_document_is_charged_its_planned_cost_then_what_it_last_cost(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.bucket = LeakyBucket(size=10_000, restore_rate=0.001)
    ledger = Ledger()
    connector.http.guard = ledger
    ids = [simulator.customer_gid(i % 60) for i in range(450)]
    await connector.customers_by_ids(ids)
    # the first: 225 ids × 4 points, as Shopify requests; the same document
    # again: what Shopify kept of the first (a deleted customer's node is null)
    first_kept = 900 + ledger.settled[0]
    assert ledger.charged == [900, first_kept]
    assert first_kept < 900
    kept = simulator.bucket.size - simulator.bucket.available
    # a deleted customer's node is null: Shopify keeps less than it requested
    assert 0 < kept < 1800
    assert sum(ledger.charged) + sum(ledger.settled) == pytest.approx(kept, abs=0.1)
    windows = {gid: 5 for gid in with_orders(simulator, 10)}
    ledger.charged.clear()
    await connector.order_summary_windows(windows)
    assert ledger.charged == [10 * (3 + 5 * 3)]  # a new document: its planned cost


async def test_a_batch_shopify_prices_above_its_limit_is_split_in_halves(
    connector: ShopifyConnector, simulator: ShopifySimulator, outcomes: Counter[str]
) -> None:
    simulator.max_query_cost = 500  # Shopify prices higher than our model
    ids = [simulator.customer_gid(i % 60) for i in range(225)]
    found = await connector.customers_by_ids(ids)
    assert [c.external_id if c else None for c in found] == [
        gid if (int(gid.rsplit("/", 1)[1]) % 50) != 7 else None for gid in ids
    ]
    # 900 refused, then 112 × 4 = 448 and 113 × 4 = 452 answered
    assert simulator.requests["graphql"] == 3
    assert outcomes["cost_exceeded"] == 1


async def test_order_windows_split_their_customers_when_refused(
    connector: ShopifyConnector, simulator: ShopifySimulator, outcomes: Counter[str]
) -> None:
    simulator.max_query_cost = 300
    ids = with_orders(simulator, 40)
    windows = await connector.order_summary_windows(dict.fromkeys(ids, 5))
    # one planned call of 40 × 18 = 720 points, refused; halves of 360, refused;
    # quarters of 180 answered
    assert simulator.requests["graphql"] == 1 + 2 + 4
    assert outcomes["cost_exceeded"] == 3
    assert all(windows[gid].orders for gid in ids)


async def test_a_page_shopify_prices_above_its_limit_is_asked_again_half_as_big(
    connector: ShopifyConnector, simulator: ShopifySimulator, outcomes: Counter[str]
) -> None:
    simulator.max_query_cost = 500
    seen = [c.external_id async for c in connector.iter_customers()]
    # 50 a page (202 points) fits; the connector's page size is 50
    assert len(seen) == len(simulator.store.customers)
    assert outcomes["cost_exceeded"] == 0
    simulator.max_query_cost = 100
    simulator.requests.reset()
    seen = [c.external_id async for c in connector.iter_customers()]
    # 50 a page refused once, then 25 a page (102) refused, then 12 (50 points)
    assert len(seen) == len(simulator.store.customers)
    assert outcomes["cost_exceeded"] == 2
    pages = -(-len(seen) // 12)
    assert simulator.requests["graphql"] == 2 + pages


async def test_a_document_too_costly_even_alone_is_a_protocol_error(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.max_query_cost = 3
    with pytest.raises(errors.UpstreamBadResponse, match="MAX_COST_EXCEEDED|max cost"):
        await connector.customers_by_ids([simulator.customer_gid(1)])


async def test_throttled_is_waited_out_for_the_points_missing_over_the_restore_rate(
    connector: ShopifyConnector,
    simulator: ShopifySimulator,
    outcomes: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def wait(seconds: float, error: errors.ConnectorError) -> None:
        waits.append(seconds)
        simulator.bucket.available = simulator.bucket.size  # the time passed

    monkeypatch.setattr(connector.http, "wait", wait)
    # The bucket's time stands still: only the wait above refills it (a loaded
    # machine once took the 4 s a refill needs before the first request).
    now = simulator.bucket.clock()
    monkeypatch.setattr(simulator.bucket, "clock", lambda: now)
    simulator.drain()  # the standard plan's 100 points a second
    ids = [simulator.customer_gid(i) for i in range(1, 101)]  # 400 points
    found = await connector.customers_by_ids(ids)
    assert len(found) == 100
    assert simulator.requests["graphql"] == 2
    assert outcomes["rate_limited"] == 1
    # (requested - currentlyAvailable) / restoreRate, not a blind backoff
    assert len(waits) == 1
    assert 3.9 <= waits[0] <= 4.0


def test_the_wait_is_read_from_the_throttle_status() -> None:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 752,
                "actualQueryCost": None,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 552,
                    "restoreRate": 100.0,
                },
            }
        },
    }
    assert admin_api.throttle_delay(body) == pytest.approx(2.0)
    assert admin_api.throttle_delay({"data": {}}) is None


async def test_the_scope_check_reports_what_is_missing_and_what_it_hides(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_all_orders", "read_returns")
    check = await connector.check_scopes()
    assert check.missing == ("read_all_orders", "read_returns")
    assert check.hidden() == [
        "orders older than 60 days are not visible: read_all_orders missing",
        "orders' and customers' returns are null (UPSTREAM_FORBIDDEN): read_returns"
        " missing",
    ]
    assert connector.missing_scopes == {"read_all_orders", "read_returns"}


async def test_after_the_scope_check_no_read_asks_for_what_it_may_not_read(
    connector: ShopifyConnector, simulator: ShopifySimulator, outcomes: Counter[str]
) -> None:
    simulator.revoke("read_returns", "read_products")
    await connector.check_scopes()
    gid = returned(simulator)
    window = (await connector.order_windows({gid: 10}))[gid]
    assert simulator.requests["graphql"] == 2  # the check, the window
    assert outcomes["access_denied"] == 0
    assert window.orders
    for order in window.orders:
        assert order.unavailable == {"returns"}
        assert order.returns == ()
        assert order.line_items
        for item in order.line_items:
            assert item.unavailable == mapping.PRODUCT_FIELDS
            assert item.title
            assert item.category is None
    lines = (await connector.order_lines_windows({gid: 10}))[gid]
    assert outcomes["access_denied"] == 0
    for summary in lines.orders:
        assert summary.line_items
        assert all(i.unavailable == mapping.PRODUCT_FIELDS for i in summary.line_items)


async def test_an_access_denied_field_is_left_out_and_asked_again_once(
    connector: ShopifyConnector, simulator: ShopifySimulator, outcomes: Counter[str]
) -> None:
    gid = returned(simulator)
    granted = (await connector.order_windows({gid: 10}))[gid]
    assert any(order.returns for order in granted.orders)
    simulator.revoke("read_returns")
    simulator.requests.reset()
    fresh = (await connector.order_windows({gid: 10}))[gid]
    # the denied answer nulled the customer (Order.returns is non-null): asked
    # again without returns, once; the rest of each order is there
    assert simulator.requests["graphql"] == 2
    assert outcomes["access_denied"] == 1
    assert connector.missing_scopes == {"read_returns"}
    assert [o.id for o in fresh.orders] == [o.id for o in granted.orders]
    assert [o.line_items for o in fresh.orders] == [
        o.line_items for o in granted.orders
    ]
    assert all(o.unavailable == {"returns"} for o in fresh.orders)
    simulator.requests.reset()
    await connector.order_windows({gid: 10})
    assert simulator.requests["graphql"] == 1  # known now: not asked at all


async def test_a_scope_no_read_can_do_without_is_upstream_forbidden(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_orders")
    gid = with_orders(simulator, 1)[0]
    with pytest.raises(errors.UpstreamForbidden) as raised:
        await connector.order_windows({gid: 5})
    assert raised.value.scope == "read_orders"
    assert raised.value.code == "UPSTREAM_FORBIDDEN"
    # profiles need only read_customers
    assert (await connector.customers_by_ids([gid]))[0] is not None


async def test_the_insights_history_reads_without_a_missing_scope_too(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_products")
    gid = with_orders(simulator, 1)[0]
    history = (await connector.orders_by_customers([gid]))[gid]
    assert history
    assert all(
        item.unavailable == mapping.PRODUCT_FIELDS
        for order in history
        for item in order.line_items
    )
    assert all(order.unavailable == frozenset() for order in history)

"""Windows of customers' newest orders, read from the Shopify simulator over
real HTTP: as many customers per call as the cost cap allows, the rest of an
order's parts in one follow-up, and exactly the orders Shopify lists."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from connectors.demo_world import CATALOG, World
from connectors.retry import RetryPolicy
from connectors.shopify import queries
from connectors.shopify.client import ShopifyConnector
from connectors.shopify.order_windows import customers_per_call
from connectors.shopify.simulator.data import Record
from connectors.shopify.simulator.server import ShopifySimulator
from connectors.simulator_server import serve_app

RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
Connect = Callable[..., ShopifyConnector]


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=11, size=60)


@pytest.fixture
def simulator(world: World) -> ShopifySimulator:
    return ShopifySimulator(world, bucket_size=1e6, restore_rate=1e6)


@pytest.fixture
async def connector(simulator: ShopifySimulator) -> AsyncIterator[ShopifyConnector]:
    async with serve_app(simulator.app) as base_url:
        opened = ShopifyConnector(base_url, "shpat_demo", retry=RETRY)
        yield opened
        await opened.aclose()


def newest(simulator: ShopifySimulator, gid: str, n: int | None = None) -> list[Record]:
    number = int(gid.rsplit("/", 1)[1])
    orders = simulator.store.orders_by_customer.get(number, [])
    ordered = sorted(
        orders, key=lambda o: (o["processedAt"], o["_number"]), reverse=True
    )
    return ordered[:n]


def fits_inline(order: Record) -> bool:
    return (
        len(order["lineItems"]) <= queries.INLINE_LINE_ITEMS
        and len(order["refunds"]) < queries.INLINE_REFUNDS
        and len(order["returns"]) <= queries.INLINE_RETURNS
    )


def regular(simulator: ShopifySimulator, orders: int, **extra: Any) -> str:
    """A customer with at least ``orders`` orders, the newest of which fit
    the inline limits."""
    for index in range(simulator.world.size):
        if index % 50 == 7:
            continue
        gid = simulator.customer_gid(index)
        placed = newest(simulator, gid, orders)
        if len(placed) >= orders and all(fits_inline(o) for o in placed):
            return gid
    raise AssertionError("no customer with that many plain orders")


def test_one_call_holds_20_full_orders_or_50_customers_newest_5_summaries() -> None:
    # planned at 900 points, a margin under Shopify's 1,000
    assert queries.ORDER_COST == 44
    assert customers_per_call(20, queries.ORDER_COST) == 1
    assert (queries.PLANNED_COST - queries.CUSTOMER_COST) // queries.ORDER_COST == 20
    assert customers_per_call(5, queries.SUMMARY_COST) == 50
    assert customers_per_call(5, queries.ORDER_COST) == 4


@pytest.mark.parametrize("size", [1, 10, 50])
async def test_summaries_of_a_page_of_customers_cost_one_call_per_50_customers(
    connector: ShopifyConnector, simulator: ShopifySimulator, size: int
) -> None:
    ids = [simulator.customer_gid(i) for i in range(size)]

    windows = await connector.order_summary_windows(dict.fromkeys(ids, 5))

    assert simulator.requests.total == math.ceil(size / 50)
    for gid in ids:
        window = windows[gid]
        expected = newest(simulator, gid)
        assert [o.id for o in window.orders] == [o["id"] for o in expected[:5]]
        assert window.total == len(expected)
        assert window.complete == (len(expected) <= 5)
        assert all(o.customer_id == gid for o in window.orders)


async def test_twenty_full_orders_cost_one_call_with_every_part(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    gid = regular(simulator, 21)

    window = (await connector.order_windows({gid: 20}))[gid]

    assert simulator.requests.total == 1
    expected = newest(simulator, gid, 20)
    assert [o.id for o in window.orders] == [o["id"] for o in expected]
    for order, record in zip(window.orders, expected, strict=True):
        assert [li.id for li in order.line_items] == [
            li["id"] for li in record["lineItems"]
        ]
        assert [r.id for r in order.refunds] == [r["id"] for r in record["refunds"]]
        assert [r.id for r in order.returns] == [r["id"] for r in record["returns"]]
    assert not window.complete
    assert window.size == 20
    assert window.total == len(newest(simulator, gid))


async def test_an_order_with_more_line_items_than_inline_gets_them_in_one_follow_up(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    gid = regular(simulator, 5)
    index = simulator.store.customers[int(gid.rsplit("/", 1)[1])]["_index"]
    big = simulator.add_order(index, [(p, 1) for p in CATALOG[:12]])

    window = (await connector.order_windows({gid: 5}))[gid]

    assert simulator.requests.total == 2  # the window, then the follow-up
    assert simulator.operations["nodes"] == 2
    assert window.orders[0].id == big["id"]
    assert [li.id for li in window.orders[0].line_items] == [
        li["id"] for li in big["lineItems"]
    ]


async def test_twenty_orders_with_their_line_summaries_cost_one_call(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    gid = regular(simulator, 21)
    full = (await connector.order_windows({gid: 20}))[gid]
    simulator.requests.reset()

    window = (await connector.order_lines_windows({gid: 20}))[gid]

    assert simulator.requests.total == 1
    assert (window.size, window.total, window.complete) == (
        full.size,
        full.total,
        full.complete,
    )
    for lines, order in zip(window.orders, full.orders, strict=True):
        assert lines.id == order.id
        assert lines.total == order.total
        assert lines.line_items is not None
        assert [
            (i.id, i.title, i.quantity, i.sku, i.variant_title, i.unit_price)
            + (i.category, i.vendor, i.unavailable)
            for i in lines.line_items
        ] == [
            (i.id, i.title, i.quantity, i.sku, i.variant_title, i.unit_price)
            + (i.category, i.vendor, i.unavailable)
            for i in order.line_items
        ]
    summaries = (await connector.order_summary_windows({gid: 20}))[gid]
    assert all(o.line_items is None for o in summaries.orders)


@pytest.mark.parametrize(
    ("lines", "orders", "calls"),
    [
        (12, 1, {"nodes": 2}),  # the window, then one follow-up
        (12, 8, {"nodes": 3}),  # the window, then 7 orders a follow-up
        (35, 1, {"nodes": 2, "order": 1}),  # and lines 31–35 paged
    ],
)
async def test_orders_with_more_line_items_than_inline_have_their_lines_read_after(
    connector: ShopifyConnector,
    simulator: ShopifySimulator,
    lines: int,
    orders: int,
    calls: dict[str, int],
) -> None:
    gid = simulator.customer_gid(1)
    big = [
        simulator.add_order(1, [(CATALOG[i % len(CATALOG)], 1) for i in range(lines)])
        for _ in range(orders)
    ]

    window = (await connector.order_lines_windows({gid: 10}))[gid]

    by_id = {o.id: o for o in window.orders}
    for record in big:
        read = by_id[record["id"]].line_items
        assert read is not None
        assert [li.id for li in read] == [li["id"] for li in record["lineItems"]]
    assert simulator.operations.snapshot() == calls


async def test_a_window_past_250_orders_asks_at_most_250_a_page(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    """Shopify's connections give at most 250 a page, whatever the cost."""
    gid = simulator.customer_gid(1)
    for _ in range(260):
        simulator.add_order(1, [(CATALOG[0], 1)])

    window = (await connector.order_summary_windows({gid: 500}))[gid]

    assert [o.id for o in window.orders] == [o["id"] for o in newest(simulator, gid)]
    assert window.complete
    assert simulator.operations["nodes"] == 2


async def test_an_order_past_the_follow_up_limits_is_paged_to_its_last_line_item(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    gid = simulator.customer_gid(1)
    huge = simulator.add_order(1, [(CATALOG[i % len(CATALOG)], 1) for i in range(35)])

    window = (await connector.order_windows({gid: 5}))[gid]

    order = window.orders[0]
    assert order.id == huge["id"]
    assert len(order.line_items) == 35
    assert [li.id for li in order.line_items] == [li["id"] for li in huge["lineItems"]]
    assert simulator.operations["order"] == 1  # line items 31–35


async def test_a_window_bigger_than_one_call_pages_the_customers_orders(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    orders = simulator.store.orders_by_customer
    number = max(orders, key=lambda n: len(orders[n]))
    gid = str(simulator.store.customers[number]["id"])
    assert len(orders[number]) > 50

    window = (await connector.order_summary_windows({gid: 250}))[gid]
    full = (await connector.order_windows({gid: 50}))[gid]

    assert [o.id for o in window.orders] == [o["id"] for o in newest(simulator, gid)]
    assert window.complete
    assert window.total == len(orders[number])
    assert [o.id for o in full.orders] == [o["id"] for o in newest(simulator, gid, 50)]
    assert not full.complete


async def test_deleted_customers_have_an_empty_complete_window(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    gid = simulator.customer_gid(7)
    window = (await connector.order_windows({gid: 20}))[gid]
    assert window.orders == ()
    assert window.complete
    assert window.total == 0


async def test_without_read_all_orders_a_window_holds_what_shopify_shows(
    connector: ShopifyConnector, simulator: ShopifySimulator
) -> None:
    simulator.revoke("read_all_orders")
    gid = regular(simulator, 1)
    window = (await connector.order_summary_windows({gid: 250}))[gid]
    limit = simulator.world.now - timedelta(days=60)
    assert all(o.processed_at >= limit for o in window.orders)
    assert window.complete
    assert window.total == len(window.orders)

"""Window sizes, when a cached window answers a request, and the read-through
cache refetching values too small for the request at hand."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest
from pydantic import TypeAdapter

from connectors.errors import UpstreamUnavailable
from connectors.models import Money, OrderSummary, OrderWindow
from gateway.cache.backends import MemoryBackend
from gateway.cache.read_through import ReadThrough
from gateway.loaders import combine
from gateway.loaders.upstream import ByCustomer, SourceLinks
from gateway.loaders.windows import NewestKey, WindowLoader, window_size
from gateway.resolvers import orders

Window = OrderWindow[OrderSummary]


def window(size: int, total: int, complete: bool) -> Window:
    """(Calling the alias ``Window(...)`` itself fails on a frozen, slotted
    dataclass: ``typing`` tries to set ``__orig_class__`` on the instance.)"""
    return OrderWindow(size, total, complete)


@pytest.mark.parametrize(
    ("needed", "size"),
    [(1, 5), (5, 5), (6, 10), (20, 20), (21, 50), (99, 100), (251, 500), (800, 1000)],
)
def test_a_window_is_rounded_up_to_a_tier(needed: int, size: int) -> None:
    assert window_size(needed) == size


def test_a_window_covers_smaller_requests_and_a_complete_one_any() -> None:
    assert window(20, 93, False).covers(5)
    assert not window(20, 93, False).covers(50)
    assert window(20, 3, True).covers(500)


def namespace() -> ReadThrough[Window]:
    return ReadThrough(MemoryBackend(), "t", TypeAdapter(Window), ttl=60)


async def test_a_loader_reads_each_customer_once_at_the_biggest_size_asked() -> None:
    asked: list[dict[str, int]] = []

    async def fetch(sizes: Mapping[str, int]) -> dict[str, Window]:
        asked.append(dict(sizes))
        return {gid: window(size, 100, False) for gid, size in sizes.items()}

    cache = namespace()
    loader = WindowLoader("t", cache, fetch, window(0, 0, True))
    first = await asyncio.gather(
        loader.load(NewestKey("a", 5)),
        loader.load(NewestKey("a", 20)),
        loader.load(NewestKey("b", 5)),
    )
    assert asked == [{"a": 20, "b": 5}]
    assert [w.size for w in first] == [20, 20, 5]

    again = WindowLoader("t", cache, fetch, window(0, 0, True))
    windows = await asyncio.gather(
        again.load(NewestKey("a", 10)), again.load(NewestKey("b", 10))
    )
    assert asked[1:] == [{"b": 10}]  # a's 20 answers 10; b's 5 does not
    assert [w.size for w in windows] == [20, 10]
    assert (await cache.peek_many(["b"]))[0] == window(10, 100, False)


async def test_a_shared_fetch_too_small_for_a_caller_is_fetched_again() -> None:
    cache = namespace()
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_small(keys: Sequence[str]) -> dict[str, Window]:
        started.set()
        await release.wait()
        return {k: window(5, 100, False) for k in keys}

    async def big(keys: Sequence[str]) -> dict[str, Window]:
        return {k: window(50, 100, False) for k in keys}

    small = asyncio.create_task(
        cache.load_many(["a"], slow_small, window(0, 0, True), lambda k, w: True)
    )
    await started.wait()
    bigger = asyncio.create_task(
        cache.load_many(["a"], big, window(0, 0, True), lambda k, w: w.covers(50))
    )
    await asyncio.sleep(0)
    release.set()
    assert (await small)[0].size == 5
    assert (await bigger)[0].size == 50


def summary(account: str, day: int) -> OrderSummary:
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=day)
    return OrderSummary(
        id=f"{account}{day}",
        customer_id=account,
        name=f"#{account}{day}",
        created_at=at,
        processed_at=at,
        total=Money(Decimal("10.00"), "EUR"),
        financial_status="PAID",
        fulfillment_status="FULFILLED",
    )


def held(account: str, size: int, days: Sequence[int], complete: bool) -> Window:
    orders = tuple(summary(account, d) for d in sorted(days, reverse=True))
    return OrderWindow(size, len(days) + (0 if complete else 50), complete, orders)


@pytest.mark.parametrize(
    ("windows", "size", "complete"),
    [
        # both cover the page: the newest 20 of all
        (
            (held("a", 20, range(20), False), held("b", 20, range(5, 25), False)),
            20,
            False,
        ),
        # a complete account's 3 and another's last good 5 (Shopify failing):
        # the newest 5, not 20 — the second account's 6th may be newer
        (
            (held("a", 20, [1, 2, 3], True), held("b", 5, range(20, 25), False)),
            5,
            False,
        ),
        (
            (held("a", 20, range(20), False), held("b", 5, range(20, 25), False)),
            5,
            False,
        ),
        # every window complete: every order, however many
        ((held("a", 5, [1, 2], True), held("b", 20, [3, 4, 5], True)), 20, True),
        ((held("a", 5, [1, 2, 3], True), held("b", 5, [4, 5, 6], True)), 6, True),
    ],
)
def test_accounts_combine_into_as_many_newest_as_the_smallest_incomplete_window(
    windows: tuple[Window, ...], size: int, complete: bool
) -> None:
    merged = combine.order_windows(windows)
    every = sorted(
        (o for w in windows for o in w.orders),
        key=lambda o: o.processed_at,
        reverse=True,
    )
    assert (merged.size, merged.complete) == (size, complete)
    assert merged.orders == tuple(every[:size])


class TwoAccounts:
    """A merged customer's links: two Shopify accounts."""

    async def load_all(self, customer_id: int) -> list[str]:
        return ["a", "b"]


def merged(loader: WindowLoader[Window]) -> ByCustomer[[int], Window]:
    """A merged customer's order windows, as a page loads them."""
    return ByCustomer(
        cast(SourceLinks, TwoAccounts()),
        lambda gid, size: loader.load(NewestKey(gid, size, partial=True)),
        combine.order_windows,
    )


async def test_a_page_of_a_merged_customer_while_shopify_fails_ends_at_the_smallest_window() -> (
    None
):
    """One account's complete window of 3 and the other's last good window of
    5, both past their TTL, and Shopify down: the page of 20 shows the newest
    5 of both (the helper's review found it read the same window for ever)."""
    cache = ReadThrough(MemoryBackend(), "t", TypeAdapter(Window), ttl=0, max_stale=60)
    stored = {
        "a": held("a", 20, [1, 2, 3], True),
        "b": held("b", 5, range(20, 25), False),
    }

    async def answer(sizes: Mapping[str, int]) -> dict[str, Window]:
        return {gid: stored[gid] for gid in sizes}

    filling = WindowLoader("t", cache, answer, window(0, 0, True))
    await filling.load(NewestKey("a", 20))
    await filling.load(NewestKey("b", 5))

    async def down(sizes: Mapping[str, int]) -> dict[str, Window]:
        raise UpstreamUnavailable("shopify", "503")

    loader = WindowLoader("t", cache, down, window(0, 0, True))
    windows = merged(loader)
    page = await asyncio.wait_for(orders._page(windows, 1, 20, None, 0), 5)
    assert page is not None
    assert [o.id for o in page.items] == ["b24", "b23", "b22", "b21", "b20"]
    assert page.has_next


async def test_a_merged_customers_complete_accounts_page_to_their_last_order() -> None:
    """Two accounts of 3 orders each, both complete: the page after the first
    5 shows the sixth (the review found it answered UPSTREAM_UNAVAILABLE,
    and before that read the same window for ever)."""

    async def answer(sizes: Mapping[str, int]) -> dict[str, Window]:
        return {
            gid: held(gid, size, [1, 2, 3] if gid == "a" else [4, 5, 6], True)
            for gid, size in sizes.items()
        }

    cache = namespace()
    loader = WindowLoader("t", cache, answer, window(0, 0, True))
    windows = merged(loader)
    first = await asyncio.wait_for(orders._page(windows, 1, 5, None, 0), 5)
    assert first is not None
    assert first.has_next
    after = orders._sort_key(first.items[-1])
    second = await asyncio.wait_for(orders._page(windows, 1, 5, after, 5), 5)
    assert second is not None
    assert [o.id for o in second.items] == ["a1"]
    assert not second.has_next

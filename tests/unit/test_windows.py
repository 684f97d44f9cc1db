"""Window sizes, when a cached window answers a request, and the read-through
cache refetching values too small for the request at hand."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from pydantic import TypeAdapter

from connectors.models import OrderSummary, OrderWindow
from gateway.cache.backends import MemoryBackend
from gateway.cache.read_through import ReadThrough
from gateway.loaders.windows import NewestKey, WindowLoader, window_size

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

"""``CachedLoader.load_now``: a loader called from another loader's batch
(the PostHog mirror's, for the persons it lacks) sends its batch at once, not
aiodataloader's three loop turns later, and still loads each key once per
request, shares a key with ``load``, and forgets a failed batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.loaders.upstream import CachedLoader


class Upstream:
    """A fetch that records its batches; ``fail`` makes the next one raise."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.fail: Exception | None = None
        self.hold: asyncio.Event | None = None

    async def __call__(self, keys: Sequence[str]) -> dict[str, str]:
        self.batches.append(list(keys))
        if self.hold is not None:
            await self.hold.wait()
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure
        return {k: k.upper() for k in keys if k != "absent"}


def loader(upstream: Upstream) -> CachedLoader[str]:
    return CachedLoader("test", None, upstream, "default")


async def sharing(
    cached: CachedLoader[str], key: str
) -> tuple[asyncio.Future[list[str | BaseException]], ...]:
    """Two loads of ``key``, the second asked while the first's batch runs."""
    first = asyncio.ensure_future(cached.load_now([key]))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(cached.load_now([key]))
    await asyncio.sleep(0)
    return first, second


async def test_the_batch_leaves_in_the_turn_it_is_asked_for() -> None:
    upstream = Upstream()
    answers = asyncio.ensure_future(loader(upstream).load_now(["a", "b", "absent"]))
    await asyncio.sleep(0)  # one turn: the task's first step
    assert upstream.batches == [["a", "b", "absent"]]
    assert await answers == ["A", "B", "default"]


async def test_a_key_loads_once_per_request_whichever_way_it_is_asked() -> None:
    upstream = Upstream()
    cached = loader(upstream)
    assert await cached.load_now(["a", "a"]) == ["A", "A"]
    assert await cached.load("a") == "A"
    assert await cached.load_now(["a", "b"]) == ["A", "B"]
    later = cached.load("c")
    assert await cached.load_now(["c"]) == ["C"]  # shares the load's batch
    assert await later == "C"
    assert upstream.batches == [["a"], ["b"], ["c"]]


async def test_a_failed_batch_answers_its_error_and_is_asked_again_later() -> None:
    upstream = Upstream()
    cached = loader(upstream)
    upstream.fail = RuntimeError("down")
    answers = await cached.load_now(["a", "b"])
    assert [type(a) for a in answers] == [RuntimeError, RuntimeError]
    assert await cached.load_now(["a"]) == ["A"]
    assert upstream.batches == [["a", "b"], ["a"]]


async def test_a_load_sharing_a_failed_batch_gets_its_error() -> None:
    upstream = Upstream()
    upstream.hold = asyncio.Event()
    cached = loader(upstream)
    first, second = await sharing(cached, "a")
    upstream.fail = RuntimeError("down")
    upstream.hold.set()
    assert [type(a) for a in await first] == [RuntimeError]
    assert [type(a) for a in await second] == [RuntimeError]
    assert upstream.batches == [["a"]]


async def test_a_cancelled_batch_is_forgotten_and_cancels_who_shared_it() -> None:
    upstream = Upstream()
    upstream.hold = asyncio.Event()
    cached = loader(upstream)
    first, second = await sharing(cached, "a")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [type(a) for a in await second] == [asyncio.CancelledError]
    upstream.hold = None
    assert await cached.load_now(["a"]) == ["A"]

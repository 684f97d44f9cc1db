"""Stores of cache misses deferred to the end of a request: the request reads
on at once, the fetch stays shared until it is stored, and leaving the block
waits for the store; a value another fetch stored between a miss and the
lock is read with the lock, not fetched again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

import pytest
from pydantic import TypeAdapter

from gateway.cache.backends import MemoryBackend
from gateway.cache.read_through import ReadThrough
from gateway.cache.writes import deferred_writes


class HeldStores(MemoryBackend):
    """Stores wait until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def store_and_release(
        self,
        locks: Mapping[str, str],
        items: Mapping[str, bytes],
        ttl: float,
        token: str,
    ) -> set[str]:
        await self.release.wait()
        return await super().store_and_release(locks, items, ttl, token)


async def test_a_deferred_store_holds_up_no_read_and_is_done_when_the_block_ends() -> (
    None
):
    backend = HeldStores()
    cache = ReadThrough(backend, "test", TypeAdapter(int), ttl=60)
    fetched: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, int]:
        fetched.append(keys)
        return {k: len(k) for k in keys}

    async def request() -> None:
        async with deferred_writes():
            assert await cache.load_many(["abc"], fetch, 0) == [3]
            # not stored yet, but shared: no second fetch
            assert await backend.get_many([cache.key("abc")]) == [None]
            assert await cache.load_many(["abc"], fetch, 0) == [3]

    leaving = asyncio.create_task(request())
    await asyncio.sleep(0.01)
    assert not leaving.done()  # waits for its store
    backend.release.set()
    await leaving
    assert await cache.peek_many(["abc"]) == [3]
    assert fetched == [["abc"]]


async def test_outside_a_block_a_store_is_done_before_the_read_returns() -> None:
    backend = HeldStores()
    backend.release.set()
    cache = ReadThrough(backend, "test", TypeAdapter(int), ttl=60)

    async def fetch(keys: Sequence[str]) -> dict[str, int]:
        return {k: 1 for k in keys}

    assert await cache.load_many(["k"], fetch, 0) == [1]
    assert await cache.peek_many(["k"]) == [1]


class StoredRightAfterFirstRead(MemoryBackend):
    """Another request's fetch is stored (and its lock released) just after
    this request's first read missed: the race of a busy worker."""

    def __init__(self, key: str, value: bytes) -> None:
        super().__init__()
        self.late = (key, value)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        found = await super().get_many(keys)
        if self.late[0] in keys:
            await self.set_many(dict([self.late]), 60)
        return found


async def test_a_value_stored_after_the_first_read_is_found_with_the_lock() -> None:
    cache = ReadThrough(MemoryBackend(), "test", TypeAdapter(int), ttl=60)
    backend = StoredRightAfterFirstRead(cache.key("abc"), cache.entry(7, time.time()))
    cache.backend = backend
    fetched: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, int]:
        fetched.append(keys)
        return {k: len(k) for k in keys}

    assert await cache.load_many(["abc"], fetch, 0) == [7]
    assert fetched == []  # not fetched a second time


def answering(*values: int) -> Callable[[Sequence[str]], Awaitable[dict[str, int]]]:
    """A fetch answering each of its calls with the next of ``values``, for
    every key asked."""
    answers = iter(values)

    async def fetch(keys: Sequence[str]) -> dict[str, int]:
        value = next(answers)
        return {k: value for k in keys}

    return fetch


async def test_a_fetch_evicted_while_its_store_waits_stores_nothing() -> None:
    """The request read the upstream before a change; the change's eviction
    came before its (deferred) store: what it read is not stored, and the
    next read fetches again."""
    backend = HeldStores()
    cache = ReadThrough(backend, "test", TypeAdapter(int), ttl=60)
    fetch = answering(1, 2)

    async def request() -> list[int]:
        async with deferred_writes():
            return await cache.load_many(["k"], fetch, 0)

    stale = asyncio.create_task(request())
    await asyncio.sleep(0.01)  # fetched, its store held
    await cache.forget(["k"])
    backend.release.set()
    assert await stale == [1]
    assert await cache.peek_many(["k"]) == [None]
    assert await cache.load_many(["k"], fetch, 0) == [2]
    assert await cache.peek_many(["k"]) == [2]


async def test_the_in_process_locks_stay_bounded_and_a_lock_is_only_its_fetchs() -> (
    None
):
    backend = MemoryBackend(max_entries=2)
    for n in range(3):  # fetches whose stores never released their locks
        await backend.acquire_many({f"k{n}:lock": f"k{n}"}, 0.0, f"t{n}")
    await backend.acquire_many({"k:lock": "k"}, 60, "mine")
    assert len(backend._locks) <= 2
    stored = await backend.store_and_release(
        {"k:lock": "k"}, {"k": b"v"}, 60, "another's"
    )
    assert stored == set()
    assert await backend.get_many(["k"]) == [None]  # not its lock: not stored
    stored = await backend.store_and_release({"k:lock": "k"}, {"k": b"v"}, 60, "mine")
    assert stored == {"k"}
    assert await backend.get_many(["k"]) == [b"v"]
    assert "k:lock" not in backend._locks


async def test_a_cancelled_block_still_stores_and_ends_the_sharing() -> None:
    """A request cancelled after its fetch (a worker's forced stop): its
    store lands all the same, so its lock is released and the next read of
    the process reads the stored value rather than the old shared fetch."""
    backend = HeldStores()
    cache = ReadThrough(backend, "test", TypeAdapter(int), ttl=60)
    fetch = answering(1)
    fetched = asyncio.Event()

    async def request() -> None:
        async with deferred_writes():
            await cache.load_many(["k"], fetch, 0)
            fetched.set()
            await asyncio.sleep(60)

    cancelled = asyncio.create_task(request())
    await fetched.wait()
    cancelled.cancel()
    await asyncio.sleep(0.01)
    assert not cancelled.done()  # waits for its writes, as a finished one
    backend.release.set()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await cache.peek_many(["k"]) == [1]
    assert not cache._inflight  # no longer shared: stored

"""Cache misses across replicas: a read locks each key it finds empty in the
same round trip (``CacheBackend.read_or_acquire``: one script, on a Redis
Cluster too for one key), and replicas missing one key together send one
upstream call. On one server and on a cluster (``redis_url``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

import pytest
from prometheus_client import REGISTRY
from pydantic import TypeAdapter

from connectors.errors import UpstreamUnavailable
from connectors.scope import CallScope, Priority, call_scope
from gateway.cache.backends import RedisBackend
from gateway.cache.read_through import ReadThrough
from gateway.shared_redis.client import SharedRedis

pytestmark = [pytest.mark.redis]


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[SharedRedis]:
    redis = SharedRedis.open(redis_url, timeout=1.0)
    yield redis
    await redis.aclose()


def replica(
    shared: SharedRedis, prefix: str, backend: type[RedisBackend] = RedisBackend
) -> ReadThrough[str]:
    """A replica's cache of one namespace: a backend of its own."""
    return ReadThrough(
        backend(shared, 100), "locks", TypeAdapter(str), ttl=60, prefix=prefix
    )


class LateLockHolder(RedisBackend):
    """A read that took a lock is answered last: the other callers' replies
    reach the event loop first (replies on several connections come back in
    any order)."""

    async def read_or_acquire(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        claims = await super().read_or_acquire(locks, ttl, token)
        if any(held for held, _ in claims):
            await asyncio.sleep(0.05)
        return claims


async def test_a_read_locks_the_keys_it_finds_empty_and_only_those(
    shared: SharedRedis, cache_prefix: str
) -> None:
    cache = replica(shared, cache_prefix)
    stored, empty, fetching = (cache.key(k) for k in ("stored", "empty", "fetching"))
    await cache.backend.set_many({stored: b"value"}, 60)
    await shared.client.set(f"{fetching}:lock", b"1", px=30_000)  # another replica
    for key in (stored, empty, fetching):
        claims = await cache.backend.read_or_acquire({f"{key}:lock": key}, 2.0, "token")
        assert (
            claims
            == {
                stored: [(False, b"value")],
                empty: [(True, None)],
                fetching: [(False, None)],
            }[key]
        )
    assert await shared.client.exists(f"{stored}:lock") == 0
    assert 0 < await shared.client.pttl(f"{empty}:lock") <= 2_000
    await shared.client.delete(f"{empty}:lock", f"{fetching}:lock")
    assert shared.breaker.outages == 0  # no CROSSSLOT on a cluster


async def test_add_many_sets_only_the_keys_without_a_value_and_reads_them_all(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """The response versions' creation (``add_many``: one script, one per
    key on a cluster, where their slots differ): a key with a value keeps
    it, the others get theirs with the TTL, and every key's value is read."""
    backend = RedisBackend(shared, 100)
    kept, new, other = (f"{cache_prefix}:add:{{{n}}}" for n in ("kept", "new", "other"))
    await shared.client.set(kept, b"before", px=60_000)
    try:
        answers = await backend.add_many(
            {kept: b"mine", new: b"minted", other: b"too"}, 2.0
        )
        assert answers == [b"before", b"minted", b"too"]
        assert 0 < await shared.client.pttl(new) <= 2_000
        assert await shared.client.pttl(kept) > 2_000  # untouched
        assert await backend.add_many({}, 2.0) == []
        assert shared.breaker.outages == 0  # no CROSSSLOT on a cluster
    finally:
        await shared.client.delete(kept, new, other)


async def test_replicas_missing_a_key_together_send_one_upstream_call(
    shared: SharedRedis, cache_prefix: str
) -> None:
    calls: list[Sequence[str]] = []
    answered = asyncio.Event()

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        calls.append(keys)
        await answered.wait()
        return {k: f"value of {k}" for k in keys}

    first, second = replica(shared, cache_prefix), replica(shared, cache_prefix)
    one = asyncio.create_task(first.load_many(["k"], fetch, ""))
    while not calls:  # the first replica read, locked and is fetching
        await asyncio.sleep(0.01)
    other = asyncio.create_task(second.load_many(["k"], fetch, ""))
    await asyncio.sleep(0.05)  # the second found the lock taken: it waits
    answered.set()
    assert await one == await other == ["value of k"]
    assert calls == [["k"]]
    locks = [
        k
        async for k in shared.client.scan_iter(
            match=f"{cache_prefix}:*:lock", count=1000
        )
    ]
    assert locks == []


async def test_a_wave_of_identical_misses_in_two_replicas_sends_one_call(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """Sixteen callers in each of two replicas miss one key at once: the one
    caller per replica that reads it holds the lock or waits for the other
    replica's value, the others share its read; none waits out the lock's
    life (30 s here) for a fetch nobody makes."""
    calls: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        calls.append(keys)
        await asyncio.sleep(0.05)
        return {k: f"value of {k}" for k in keys}

    replicas = [replica(shared, cache_prefix, LateLockHolder) for _ in range(2)]
    for cache in replicas:
        cache.lock_ttl = 30.0
    loads = [c.load_many(["k"], fetch, "") for c in replicas for _ in range(16)]
    answers = await asyncio.wait_for(asyncio.gather(*loads), 10)
    assert answers == [["value of k"]] * 32
    assert calls == [["k"]]


@pytest.mark.parametrize("outcome", ["a smaller value", "a failure"])
async def test_a_replica_waits_no_longer_than_another_replicas_fetch_that_cannot_serve_it(
    shared: SharedRedis, cache_prefix: str, outcome: str
) -> None:
    """The first replica fetches a window of 5 (or fails); the second, which
    needs 20, found the key locked and waited. Once the lock is released
    without a value it can use, it fetches the key itself at once, rather
    than polling out the lock's life (30 s here), under a lock of its own
    taken again, so its window is stored."""
    calls: list[int] = []
    answered = asyncio.Event()

    def fetching(size: int) -> Callable[[Sequence[str]], Awaitable[dict[str, str]]]:
        async def fetch(keys: Sequence[str]) -> dict[str, str]:
            calls.append(size)
            if size == 5:
                await answered.wait()
                if outcome == "a failure":
                    raise UpstreamUnavailable("locks", "down")
            return {k: str(size) for k in keys}

        return fetch

    def covers(size: int) -> Callable[[str, str], bool]:
        return lambda _, window: int(window) >= size

    first, second = replica(shared, cache_prefix), replica(shared, cache_prefix)
    for cache in (first, second):
        cache.lock_ttl = 30.0
    small = asyncio.create_task(first.load_many(["k"], fetching(5), "", covers(5)))
    while not calls:  # the first replica read, locked and is fetching
        await asyncio.sleep(0.01)
    big = asyncio.create_task(second.load_many(["k"], fetching(20), "", covers(20)))
    await asyncio.sleep(0.1)  # the second found the lock taken: it waits
    assert calls == [5]
    answered.set()
    assert await asyncio.wait_for(big, 10) == ["20"]
    assert calls == [5, 20]
    # locked again before it fetched: what it fetched is stored
    assert await second.peek_many(["k"]) == ["20"]
    if outcome == "a failure":
        with pytest.raises(UpstreamUnavailable):
            await small
    else:
        assert await small == ["5"]


async def test_a_fetch_evicted_before_its_store_stores_nothing(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A change's eviction lands while a replica is still fetching what the
    upstream answered before the change: that answer is not stored (its
    lock went with the eviction), and the next read fetches again. On a
    cluster too: a batch's values and locks are on several slots."""
    cache = replica(shared, cache_prefix)
    fetching, evicted = asyncio.Event(), asyncio.Event()
    answers = iter(["before", "after"])

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        value = next(answers)
        if value == "before":
            fetching.set()
            await evicted.wait()
        return {k: f"{value} {k}" for k in keys}

    reading = asyncio.create_task(cache.load_many(["a", "b"], fetch, ""))
    # locked, fetching (not a sleep: on a loaded machine a lock was once
    # taken after the eviction, and what came after it rightly stored)
    await asyncio.wait_for(fetching.wait(), 10)
    await cache.forget(["a", "b"])
    evicted.set()
    assert await reading == ["before a", "before b"]
    assert await cache.peek_many(["a", "b"]) == [None, None]
    assert await cache.load_many(["a", "b"], fetch, "") == ["after a", "after b"]
    assert await cache.peek_many(["a", "b"]) == ["after a", "after b"]
    locks = [
        k
        async for k in shared.client.scan_iter(
            match=f"{cache_prefix}:*:lock", count=1000
        )
    ]
    assert locks == []


async def test_a_store_leaves_alone_a_lock_another_fetch_holds_now(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A fetch outlived its lock; another replica took the key's lock since
    and is fetching: the first fetch neither stores nor releases that lock."""
    cache = replica(shared, cache_prefix)
    cache.lock_ttl = 0.05
    lock = f"{cache.key('k')}:lock"

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        await asyncio.sleep(0.15)  # the lock expires meanwhile
        await shared.client.set(lock, b"another replica's", px=30_000)
        return {k: "late" for k in keys}

    assert await cache.load_many(["k"], fetch, "") == ["late"]
    assert await cache.peek_many(["k"]) == [None]
    assert await shared.client.get(lock) == b"another replica's"
    await shared.client.delete(lock)


def request() -> contextlib.AbstractContextManager[CallScope]:
    """A request's call scope, opened now."""
    return call_scope(10.0, Priority.INTERACTIVE)


class Counted(RedisBackend):
    """Counts the reads, and the stores and releases, sent to Redis."""

    reads = 0
    stores = 0

    async def read_or_acquire(
        self, locks: Mapping[str, str], ttl: float, token: str
    ) -> list[tuple[bool, bytes | None]]:
        self.reads += 1
        return await super().read_or_acquire(locks, ttl, token)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        self.reads += 1
        return await super().get_many(keys)

    async def store_and_release(
        self,
        locks: Mapping[str, str],
        items: Mapping[str, bytes],
        ttl: float,
        token: str,
    ) -> set[str]:
        self.stores += 1
        return await super().store_and_release(locks, items, ttl, token)


async def test_a_store_answers_the_keys_it_stored_under_their_locks(
    shared: SharedRedis, cache_prefix: str
) -> None:
    cache = replica(shared, cache_prefix)
    mine, gone, theirs, bare = (
        cache.key(k) for k in ("mine", "gone", "theirs", "bare")
    )
    held = {f"{k}:lock": k for k in (mine, gone, theirs, bare)}
    await cache.backend.acquire_many(held, 30.0, "token")
    await shared.client.delete(f"{gone}:lock")  # evicted
    await shared.client.set(f"{theirs}:lock", b"another's", px=30_000)
    items = {mine: b"1", gone: b"2", theirs: b"3"}  # bare: released only
    assert await cache.backend.store_and_release(held, items, 60, "token") == {mine}
    assert await cache.backend.get_many([mine, gone, theirs, bare]) == [
        b"1",
        None,
        None,
        None,
    ]
    assert await shared.client.exists(f"{bare}:lock") == 0
    await shared.client.delete(f"{theirs}:lock")


async def test_a_request_begun_after_another_replicas_change_shares_no_read_begun_before(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """Replica B is fetching what the upstream said before a change; replica
    A accepts the change and evicts the key (``Invalidator``, in A's process
    only). A request B begins after that does not take B's fetch, whose
    store the eviction refused: it reads the key again and fetches. What the
    first fetch read is not stored; what the second read is."""
    fetching, evicted = asyncio.Event(), asyncio.Event()
    answers = iter(["before", "after"])
    calls: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        calls.append(keys)
        value = next(answers)
        if value == "before":
            fetching.set()
            await evicted.wait()
        return {k: f"{value} {k}" for k in keys}

    async def view() -> list[str]:
        with request():
            return await b.load_many(["k"], fetch, "")

    a, b = replica(shared, cache_prefix), replica(shared, cache_prefix)
    first = asyncio.create_task(view())
    await asyncio.wait_for(fetching.wait(), 10)
    await a.forget(["k"])  # the change, accepted by replica A
    later = asyncio.create_task(view())
    await asyncio.sleep(0.01)  # it found B's fetch under way
    evicted.set()

    assert await later == ["after k"]
    assert await first == ["before k"]  # begun before the change
    assert calls == [["k"], ["k"]]
    assert await b.peek_many(["k"]) == ["after k"]


async def test_a_request_begun_during_a_fetch_without_a_change_shares_it_once_stored(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """Without a change, a request begun while its process fetches a key
    shares that fetch once its store landed under its lock (which vouches
    that no eviction came since it was taken): no read or call of its own."""
    answered = asyncio.Event()
    calls: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        calls.append(keys)
        await answered.wait()
        return {k: f"value of {k}" for k in keys}

    async def view() -> list[str]:
        with request():
            return await cache.load_many(["k"], fetch, "")

    cache = replica(shared, cache_prefix, Counted)
    first = asyncio.create_task(view())
    while not calls:
        await asyncio.sleep(0.01)
    later = asyncio.create_task(view())
    await asyncio.sleep(0.01)
    answered.set()
    assert await asyncio.wait_for(asyncio.gather(first, later), 10) == [
        ["value of k"],
        ["value of k"],
    ]
    assert calls == [["k"]]
    assert isinstance(cache.backend, Counted)
    assert cache.backend.reads == 1


async def test_a_request_begun_during_a_read_that_hit_reads_the_key_itself(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A hit is vouched for by no store: a request begun while it was read
    (another replica's eviction may have come after it) reads the key again."""

    class SlowRead(Counted):
        async def read_or_acquire(
            self, locks: Mapping[str, str], ttl: float, token: str
        ) -> list[tuple[bool, bytes | None]]:
            claims = await super().read_or_acquire(locks, ttl, token)
            await asyncio.sleep(0.05)
            return claims

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        raise AssertionError("a hit is not fetched")

    async def view() -> list[str]:
        with request():
            return await cache.load_many(["k"], fetch, "")

    cache = replica(shared, cache_prefix, SlowRead)
    await cache.backend.set_many({cache.key("k"): cache.entry("cached", 1e10)}, 60)
    before = cache_hits()
    first = asyncio.create_task(view())
    await asyncio.sleep(0.01)  # its read is under way
    assert await asyncio.gather(first, view()) == [["cached"], ["cached"]]
    assert isinstance(cache.backend, Counted)
    assert cache.backend.reads == 2
    assert cache_hits() - before == 2  # each found it in the cache


def cache_hits() -> float:
    hits = REGISTRY.get_sample_value(
        "customer_graph_cache_requests_total", {"source": "locks", "result": "hit"}
    )
    return hits or 0.0


async def test_a_failed_fetch_fails_the_requests_sharing_it_and_a_cancelled_one_not(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A request begun while its process's fetch of a key was under way
    shares its failure (one call to a failing upstream, not one each); when
    the fetch is given up instead (its request cancelled), it fetches the
    key itself."""
    fetching, answered = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def failing(keys: Sequence[str]) -> dict[str, str]:
        calls.append("failing")
        fetching.set()
        await answered.wait()
        raise UpstreamUnavailable("locks", "down")

    async def view(
        fetch: Callable[[Sequence[str]], Awaitable[dict[str, str]]],
    ) -> list[str]:
        with request():
            return await cache.load_many(["k"], fetch, "")

    cache = replica(shared, cache_prefix)
    first = asyncio.create_task(view(failing))
    await asyncio.wait_for(fetching.wait(), 10)
    later = asyncio.create_task(view(failing))
    await asyncio.sleep(0.01)
    answered.set()
    for failed in (first, later):
        with pytest.raises(UpstreamUnavailable):
            await failed
    assert calls == ["failing"]

    async def working(keys: Sequence[str]) -> dict[str, str]:
        calls.append("working")
        return {k: "value" for k in keys}

    fetching.clear()
    answered.clear()
    given_up = asyncio.create_task(view(failing))
    await asyncio.wait_for(fetching.wait(), 10)
    sharing = asyncio.create_task(view(working))
    await asyncio.sleep(0.01)
    given_up.cancel()
    assert await asyncio.wait_for(sharing, 10) == ["value"]
    assert calls == ["failing", "failing", "working"]


async def test_requests_begun_before_a_read_share_it(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """Sixteen requests begun together, their loads reaching the cache one
    after another: the first reads and fetches, the others share it."""
    calls: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        calls.append(keys)
        await asyncio.sleep(0.05)
        return {k: f"value of {k}" for k in keys}

    cache = replica(shared, cache_prefix, Counted)

    async def view(arriving: float) -> list[str]:
        with request():
            await asyncio.sleep(arriving)
            return await cache.load_many(["k"], fetch, "")

    answers = await asyncio.gather(*(view(0.01 + 0.002 * i) for i in range(16)))
    assert answers == [["value of k"]] * 16
    assert calls == [["k"]]
    assert isinstance(cache.backend, Counted)
    assert cache.backend.reads == 1


async def test_a_store_sent_before_a_request_began_does_not_vouch_for_it(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """B's store landed, but its answer is slow (a Cluster's batch waits for
    its slowest node): meanwhile A evicts the key and a request begins on
    B. That store, sent before the request began, vouches for nothing after
    it: the request reads the key again, and fetches."""
    answered = asyncio.Event()
    answers = iter(["before", "after"])

    class SlowAnswer(RedisBackend):
        async def store_and_release(
            self,
            locks: Mapping[str, str],
            items: Mapping[str, bytes],
            ttl: float,
            token: str,
        ) -> set[str]:
            stored = await super().store_and_release(locks, items, ttl, token)
            if stored:
                landed.set()
                await answered.wait()
            return stored

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        value = next(answers)
        return {k: f"{value} {k}" for k in keys}

    async def view() -> list[str]:
        with request():
            return await b.load_many(["k"], fetch, "")

    landed = asyncio.Event()
    a, b = replica(shared, cache_prefix), replica(shared, cache_prefix, SlowAnswer)
    first = asyncio.create_task(view())
    await asyncio.wait_for(landed.wait(), 10)
    await a.forget(["k"])  # the change, after the store landed
    later = asyncio.create_task(view())
    await asyncio.sleep(0.01)  # it found B's read, not yet settled
    answered.set()
    assert await first == ["before k"]
    assert await later == ["after k"]


async def test_requests_left_unvouched_share_one_read_again(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """Eight requests begun during a fetch that an eviction then refused to
    store: one of them reads the key again and fetches, the others share
    that read (no polling for the lock one of them took)."""
    fetching, evicted = asyncio.Event(), asyncio.Event()
    calls: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        calls.append(keys)
        if len(calls) == 1:
            fetching.set()
            await evicted.wait()
        return {k: f"value {len(calls)}" for k in keys}

    async def view() -> list[str]:
        with request():
            return await b.load_many(["k"], fetch, "")

    a, b = replica(shared, cache_prefix), replica(shared, cache_prefix, Counted)
    first = asyncio.create_task(view())
    await asyncio.wait_for(fetching.wait(), 10)
    await a.forget(["k"])
    later = [asyncio.create_task(view()) for _ in range(8)]
    await asyncio.sleep(0.01)
    evicted.set()
    assert await first == ["value 1"]
    assert await asyncio.gather(*later) == [["value 2"]] * 8
    assert len(calls) == 2
    assert isinstance(b.backend, Counted)
    assert b.backend.reads == 2  # the first read, and the one read again


async def test_a_read_cancelled_while_it_took_its_locks_releases_them(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A request cancelled while its read's script ran (graphql-core cancels
    a failed field's siblings): the locks that script took are released,
    so no other caller waits out their life."""
    ran = asyncio.Event()

    class SlowReply(RedisBackend):
        async def read_or_acquire(
            self, locks: Mapping[str, str], ttl: float, token: str
        ) -> list[tuple[bool, bytes | None]]:
            claims = await super().read_or_acquire(locks, ttl, token)
            ran.set()
            await asyncio.sleep(30)
            return claims

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        raise AssertionError("cancelled before it fetched")

    cache = replica(shared, cache_prefix, SlowReply)
    cache.lock_ttl = 30.0
    reading = asyncio.create_task(cache.load_many(["a", "b"], fetch, ""))
    await asyncio.wait_for(ran.wait(), 10)
    assert await shared.client.exists(*(f"{cache.key(k)}:lock" for k in "ab")) == 2
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert await shared.client.exists(*(f"{cache.key(k)}:lock" for k in "ab")) == 0


async def test_a_key_without_a_name_is_refused_and_leaves_no_read_behind(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A key the namespace cannot name (a lone surrogate has no UTF-8): the
    load fails at once, and the batch's other keys are not left shared with
    nobody reading them."""

    def name(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        return {k: "value" for k in keys}

    cache = ReadThrough(
        RedisBackend(shared, 100),
        "locks",
        TypeAdapter(str),
        ttl=60,
        prefix=cache_prefix,
        pseudonyms=name,
    )
    with pytest.raises(UnicodeEncodeError):
        await cache.load_many(["user\ud800", "ok"], fetch, "")
    assert await asyncio.wait_for(cache.load_many(["ok"], fetch, ""), 10) == ["value"]


async def test_a_failed_fetch_releases_its_locks_in_one_round_trip(
    shared: SharedRedis, cache_prefix: str
) -> None:
    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        raise UpstreamUnavailable("locks", "down")

    cache = replica(shared, cache_prefix, Counted)
    with pytest.raises(UpstreamUnavailable):
        await cache.load_many(["a", "b", "c"], fetch, "")
    assert isinstance(cache.backend, Counted)
    assert cache.backend.stores == 1
    locks = [k async for k in shared.client.scan_iter(match=f"{cache_prefix}:*:lock")]
    assert locks == []


async def test_a_refetch_cancelled_while_it_took_its_locks_releases_them(
    shared: SharedRedis, cache_prefix: str
) -> None:
    """A window outgrown (another request's fetch answered a smaller one) is
    locked again to be fetched; cancelled while that script ran, the lock
    it took is released."""
    ran = asyncio.Event()

    class SlowLocks(RedisBackend):
        async def acquire_many(
            self, locks: Mapping[str, str], ttl: float, token: str
        ) -> list[tuple[bool, bytes | None]]:
            claims = await super().acquire_many(locks, ttl, token)
            if locks:  # not the read's own, empty, call
                ran.set()
                await asyncio.sleep(30)
            return claims

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        await asyncio.sleep(0.05)
        return {k: "5" for k in keys}

    cache = replica(shared, cache_prefix, SlowLocks)
    cache.lock_ttl = 30.0
    small = asyncio.create_task(cache.load_many(["k"], fetch, ""))
    await asyncio.sleep(0.01)  # its fetch is under way
    big = asyncio.create_task(
        cache.load_many(["k"], fetch, "", lambda _, window: int(window) >= 20)
    )
    await asyncio.wait_for(ran.wait(), 10)
    assert await small == ["5"]
    big.cancel()
    with pytest.raises(asyncio.CancelledError):
        await big
    assert await shared.client.exists(f"{cache.key('k')}:lock") == 0

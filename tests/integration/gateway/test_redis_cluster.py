"""Redis Cluster and Sentinel: what only they can get wrong. A batch of keys
spread over hash slots is read, locked, written and evicted without a
``CROSSSLOT`` refusal (one ``MGET`` per slot), the change feed crosses
replicas over sharded pub/sub and resyncs after the cluster was down, a
master's failover costs one outage and its promoted replica then serves the
cache and the feed, and a Sentinel URL finds the master for both, after a
failover too. The other Redis tests run on a cluster as well (the
``redis_url`` fixture's ``cluster``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

import pytest
from pydantic import TypeAdapter
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from bench.redis_cluster import LocalCluster, LocalSentinel, own_cluster, own_sentinel
from gateway.cache.backends import RedisBackend
from gateway.cache.read_through import ReadThrough
from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.changes.feed import RESYNC, ChangeFeed
from gateway.shared_redis.client import SharedRedis
from gateway.shared_redis.pseudonyms import Pseudonyms
from tests.servers import needed

pytestmark = [pytest.mark.redis]

PAGE = 50


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    """A cluster of this test's own, to kill and start again."""
    needed("redis-server", "redis-cli")
    with own_cluster() as started:
        yield started


@pytest.fixture
def sentinel() -> Iterator[LocalSentinel]:
    needed("redis-server", "redis-cli")
    with own_sentinel() as started:
        yield started


@pytest.fixture
async def shared(cluster_redis_url: str) -> AsyncIterator[SharedRedis]:
    # 5 s: a page's 50 stores on a loaded machine once took past 1 s, and the
    # breaker then skipped Redis (the read back was a miss); not what is tested
    redis = SharedRedis.open(cluster_redis_url, timeout=5.0)
    yield redis
    await redis.aclose()


async def calls(client: RedisCluster, command: str) -> int:
    """Calls of ``command`` every master counted since its last reset."""
    stats = await client.info("commandstats", target_nodes=RedisCluster.PRIMARIES)
    return sum(
        int(node.get(f"cmdstat_{command}", {}).get("calls", 0))
        for node in stats.values()
    )


def customers(cache_prefix: str, backend: RedisBackend) -> ReadThrough[str]:
    return ReadThrough(
        backend,
        "shopify.customer",
        TypeAdapter(str),
        ttl=60,
        prefix=cache_prefix,
        pseudonyms=Pseudonyms("cluster-test-secret-" * 2),
    )


async def test_a_page_of_fifty_customers_is_read_written_and_evicted_across_slots(
    shared: SharedRedis, cache_prefix: str
) -> None:
    assert isinstance(shared.client, RedisCluster)
    cache = customers(cache_prefix, RedisBackend(shared, 100))
    ids = [f"gid://shopify/Customer/{n}" for n in range(PAGE)]
    fetched: list[Sequence[str]] = []

    async def fetch(keys: Sequence[str]) -> Mapping[str, str]:
        fetched.append(keys)
        return {k: f"customer {k}" for k in keys}

    expected = [f"customer {k}" for k in ids]
    assert await cache.load_many(ids, fetch, "") == expected  # locks, stores
    assert fetched == [ids]

    slots = {key_slot(cache.key(k).encode()) for k in ids}
    nodes = {shared.client.get_node_from_key(cache.key(k)).name for k in ids}
    assert len(slots) == PAGE  # the page spreads over the cluster...
    assert len(nodes) == 3
    await shared.client.config_resetstat(target_nodes=RedisCluster.PRIMARIES)
    assert await cache.load_many(ids, fetch, "") == expected
    assert fetched == [ids]  # ...and is read back without an upstream call
    assert await calls(shared.client, "mget") == len(slots)  # one MGET a slot

    await cache.forget(ids)
    assert await cache.peek_many(ids) == [None] * PAGE
    locks = [
        k
        async for k in shared.client.scan_iter(
            match=f"{cache_prefix}:*:lock", count=1000
        )
    ]
    assert locks == []  # every lock was released with its value
    assert shared.breaker.outages == 0  # no call failed (a CROSSSLOT would)


class Replica:
    """A process's bus, Redis and change feed (what ``open_services`` wires)."""

    def __init__(self, url: str) -> None:
        self.bus = ChangeBus()
        self.redis = SharedRedis.open(url, timeout=0.25)
        self.feed = ChangeFeed(self.bus, self.redis, "cluster-test:changes")

    async def __aenter__(self) -> Replica:
        await self.feed.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.feed.aclose()
        await self.redis.aclose()


async def next_change(queue: asyncio.Queue[CustomerChange]) -> CustomerChange:
    return await asyncio.wait_for(queue.get(), 15)


async def test_a_change_crosses_replicas_over_sharded_pub_sub(
    cluster_redis_url: str,
) -> None:
    async with (
        Replica(cluster_redis_url) as first,
        Replica(cluster_redis_url) as second,
    ):
        client = second.redis.client
        assert isinstance(client, RedisCluster)
        node = client.get_node_from_key(second.feed.channel)
        answer = await client.execute_command(
            "PUBSUB SHARDNUMSUB", second.feed.channel, target_nodes=node
        )
        assert answer == [(second.feed.channel.encode(), 2)]  # both, on its master
        async with second.feed.listen(5) as there:
            await first.bus.publish(CustomerChange(5, "crm", "note_added"))
            assert (await next_change(there)).kind == "note_added"


async def test_the_feed_delivers_locally_and_resyncs_when_the_cluster_is_back(
    cluster: LocalCluster,
) -> None:
    async with (
        Replica(cluster.url) as first,
        Replica(cluster.url) as second,
        first.feed.listen(7) as here,
        second.feed.listen(7) as there,
    ):
        cluster.kill()
        during = CustomerChange(7, "crm", "task_added")
        await first.bus.publish(during)
        assert await next_change(here) == during  # delivered here at once
        assert not first.redis.breaker.closed
        await second.bus.publish(CustomerChange(8, "crm", "opens its breaker"))

        await asyncio.to_thread(cluster.start)
        kinds = {(await next_change(there)).kind}
        assert kinds & {"task_added", RESYNC}
        await first.bus.publish(CustomerChange(7, "crm", "tag_added"))
        while (await next_change(there)).kind != "tag_added":
            pass  # the task, if its publication came late


@pytest.fixture
def replicated() -> Iterator[LocalCluster]:
    """Three masters with a replica each, promoted 1.5 s after its master
    stops answering."""
    needed("redis-server", "redis-cli")
    with own_cluster(replicas=1, node_timeout_ms=1500) as started:
        yield started


async def test_a_master_failing_over_costs_an_outage_then_its_replica_serves(
    replicated: LocalCluster, cache_prefix: str
) -> None:
    async with (
        Replica(replicated.url) as first,
        Replica(replicated.url) as second,
        second.feed.listen(3) as there,
    ):
        client = first.redis.client
        assert isinstance(client, RedisCluster)
        master = client.get_node_from_key(first.feed.channel)
        replicated.node(master.port).kill()  # the feed's channel's master
        await asyncio.to_thread(replicated.wait_failed_over)  # replica promoted

        backend = RedisBackend(first.redis, 100)
        key = f"{cache_prefix}:{{{first.feed.channel}}}"  # a key of that slot
        await backend.set_many({key: b"1"}, ttl=60)  # Redis, or the near tier
        breaker = first.redis.breaker
        async with asyncio.timeout(15):  # the outage seen, then a probe's answer
            while breaker.outages == 0 or not breaker.closed:
                await asyncio.sleep(0.05)
        await backend.set_many({key: b"2"}, ttl=60)
        assert (await first.redis.mget([key]), breaker.closed) == ([b"2"], True)
        assert client.get_node_from_key(key).port != master.port  # the replica

        while not (first.feed.subscribed and second.feed.subscribed):
            await asyncio.sleep(0.05)
        await first.bus.publish(CustomerChange(3, "crm", "tag_added"))
        while (await next_change(there)).kind != "tag_added":
            pass  # a RESYNC first: the second replica subscribed again


async def test_a_sentinel_url_serves_the_cache_and_the_feed_across_a_failover(
    sentinel: LocalSentinel, cache_prefix: str
) -> None:
    key = f"{cache_prefix}:a"
    async with (
        Replica(sentinel.url) as first,
        Replica(sentinel.url) as second,
        second.feed.listen(9) as there,
    ):
        backend = RedisBackend(first.redis, 100)
        await backend.set_many({key: b"1"}, ttl=60)
        assert await RedisBackend(second.redis, 100).get_many([key]) == [b"1"]
        await first.bus.publish(CustomerChange(9, "crm", "note_added"))
        assert (await next_change(there)).kind == "note_added"
        assert first.redis.breaker.outages == 0

        sentinel.master.kill()
        await asyncio.to_thread(sentinel.wait_promoted)
        breaker = first.redis.breaker
        await backend.set_many({key: b"2"}, ttl=60)  # Redis, or the near tier
        async with asyncio.timeout(15):  # the outage seen, then a probe's answer
            while breaker.outages == 0 or not breaker.closed:
                await asyncio.sleep(0.05)
        await backend.set_many({key: b"3"}, ttl=60)
        assert (await first.redis.mget([key]), breaker.closed) == ([b"3"], True)
        while not (first.feed.subscribed and second.feed.subscribed):
            await asyncio.sleep(0.05)
        await first.bus.publish(CustomerChange(9, "crm", "tag_added"))
        while (await next_change(there)).kind != "tag_added":
            pass  # a RESYNC first: the second replica subscribed again

"""A Redis outage costs nothing but upstream calls: every Redis user of a
process shares one breaker, so a hung or dead Redis costs one timeout, then
no call reaches it until a probe finds it back; meanwhile each user answers in
process (cache: an in-process tier; rate limits: in-process buckets; the feed:
local delivery), and what changed meanwhile is made good when it is back
(evictions replayed, responses forgotten, changes published, listeners
resynced). Each test runs a Redis server of its own, to stop or kill."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bench.queries import CUSTOMER_360
from bench.redis_server import RedisServer
from bench.subject import richest_customer
from gateway.auth.ratelimit import RateLimiter
from gateway.cache.backends import RedisBackend
from gateway.cache.read_through import ReadThrough
from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.changes.feed import ANY_SOURCE, RESYNC, ChangeFeed
from gateway.shared_redis.breaker import DOWN
from gateway.shared_redis.channels import Subscription
from gateway.shared_redis.client import SharedRedis
from tests.conftest import stored_answers
from tests.integration.gateway.conftest import Gateway
from tests.redis_sends import watch_direct_sends

pytestmark = [pytest.mark.redis, pytest.mark.storage_independent]


@pytest.fixture
def gateway(gateway_on_own_redis: Gateway) -> Gateway:
    return gateway_on_own_redis


@pytest.fixture
def sent(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The commands (a pipeline as one) the gateway sends to Redis, the
    breaker's probes left out."""
    shared = gateway.services.redis
    assert shared is not None
    sent: Counter[str] = Counter()
    command = shared.client.execute_command
    execute = Pipeline.execute

    async def one(*args: Any, **options: Any) -> Any:
        probe = len(args) > 1 and str(args[1]).endswith(":redis-probe")
        if not probe:
            sent[str(args[0])] += 1
        return await command(*args, **options)

    async def pipeline(self: Pipeline, raise_on_error: bool = True) -> Any:
        sent["pipeline"] += 1
        return await execute(self, raise_on_error)

    def direct(commands: list[tuple[str, str]]) -> None:  # one write, as a pipeline
        sent[commands[0][0] if len(commands) == 1 else "pipeline"] += 1

    monkeypatch.setattr(shared.client, "execute_command", one)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    watch_direct_sends(monkeypatch, direct)
    return sent


def shared_redis(gateway: Gateway) -> SharedRedis:
    assert gateway.services.redis is not None
    return gateway.services.redis


async def view(gateway: Gateway) -> str:
    """The 360 view of a customer every source knows; their id."""
    subject = richest_customer(gateway.world, gateway.simulators)
    result = await gateway.gql(CUSTOMER_360.document, {"id": subject.global_id})
    assert "errors" not in result, result
    assert result["data"]["customer"]["orders"]["edges"]
    return subject.global_id


async def back(shared: SharedRedis, done: Callable[[], object]) -> None:
    """Wait until the breaker closed and ``done`` holds (hooks ran)."""
    await asyncio.wait_for(shared.breaker.wait_closed(), 15)
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("Redis came back but the recovery did not finish")


@pytest.mark.parametrize("outage", ["hung", "refused"])
async def test_an_outage_costs_one_failed_call_then_views_are_answered_in_process(
    gateway: Gateway, redis_server: RedisServer, sent: Counter[str], outage: str
) -> None:
    await view(gateway)  # links, warms Redis
    if outage == "hung":
        redis_server.pause()
    else:
        redis_server.kill()
    gateway.simulators.reset_counts()
    sent.clear()
    for _ in range(10):
        await view(gateway)
    assert sum(sent.values()) == 1  # the rate limit's, which failed
    assert not shared_redis(gateway).breaker.closed
    # The first view fetched from upstream, the nine others were answered from
    # the in-process tier.
    assert gateway.simulators.total_requests() == {
        "shopify": 1,
        "zendesk": 1,
        "posthog": 1,
    }
    if outage == "hung":
        redis_server.resume()
    else:
        redis_server.start()
    await asyncio.wait_for(shared_redis(gateway).breaker.wait_closed(), 15)
    await view(gateway)


async def test_evictions_made_during_an_outage_are_replayed_when_redis_is_back(
    gateway: Gateway, redis_server: RedisServer
) -> None:
    customer = int(richest_customer(gateway.world, gateway.simulators).customer_id)
    await view(gateway)  # orders, tickets, activity and the response in Redis
    redis_server.pause()
    # A new ticket (a webhook) during the outage: its eviction cannot reach Redis.
    await gateway.services.changes.publish(
        CustomerChange(customer, "zendesk", "ticket.created")
    )
    redis_server.resume()
    shared = shared_redis(gateway)
    caches = gateway.services.caches
    assert caches is not None
    prefix = caches.zendesk_tickets.prefix

    async def tickets_cached() -> bool:
        return bool(
            [k async for k in shared.client.scan_iter(match=f"{prefix}*", count=1000)]
        )

    await asyncio.wait_for(shared.breaker.wait_closed(), 15)
    for _ in range(500):
        if not await tickets_cached():
            break
        await asyncio.sleep(0.01)
    gateway.simulators.reset_counts()
    await view(gateway)
    # Without the replay Redis would still hold the customer's orders, tickets
    # and activity (a stopped server keeps its data): no upstream call.
    assert gateway.simulators.total_requests() == {
        "shopify": 1,
        "zendesk": 1,
        "posthog": 1,
    }


async def test_an_erasures_purge_during_an_outage_is_made_when_redis_is_back(
    gateway: Gateway, redis_server: RedisServer
) -> None:
    """The erased person's stored answers would otherwise stay in Redis
    (unreadable: their version moved) until their TTL."""
    customer = int(richest_customer(gateway.world, gateway.simulators).customer_id)
    await view(gateway)  # the whole answer and its fragments stored in Redis
    services = gateway.services
    assert await stored_answers(services, customer)
    responses = services.responses
    assert responses is not None
    redis_server.pause()
    await responses.purge_customers([customer])
    redis_server.resume()
    backend = responses.backend
    assert isinstance(backend, RedisBackend)
    await back(shared_redis(gateway), lambda: not backend._purges)
    assert await stored_answers(services, customer) == []


async def test_persisted_queries_register_and_run_while_redis_is_down(
    gateway: Gateway, redis_server: RedisServer
) -> None:
    redis_server.kill()
    document = "{ customers(first: 1) { totalCount } }"
    digest = hashlib.sha256(document.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    stored = await gateway.http.post(
        "/graphql", json={"query": document, "extensions": extensions}
    )
    assert "errors" not in stored.json(), stored.json()
    by_hash = await gateway.http.post("/graphql", json={"extensions": extensions})
    assert by_hash.json() == stored.json()


async def test_rate_limits_count_in_process_while_redis_is_skipped(
    redis_server: RedisServer,
) -> None:
    shared = SharedRedis.open(redis_server.url, timeout=0.25)
    limiter = RateLimiter(per_minute=1, burst=3, redis=shared, prefix="outage")
    try:
        assert await limiter.take("caller") == 0
        redis_server.kill()
        waits = [await limiter.take("caller") for _ in range(5)]
        # The in-process bucket goes on from the level Redis last answered
        # (3 − 1): two allowed, then refusals saying when to come back.
        assert waits[:2] == [0, 0]
        assert all(wait > 0 for wait in waits[2:])
        assert not shared.breaker.closed
    finally:
        await shared.aclose()


class Replica:
    """A process's bus, Redis and change feed (what ``open_services`` wires)."""

    def __init__(self, url: str) -> None:
        self.bus = ChangeBus()
        self.redis = SharedRedis.open(url, timeout=0.25)
        self.feed = ChangeFeed(self.bus, self.redis, "outage:changes")


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[tuple[Replica, Replica]]:
    first, second = Replica(redis_server.url), Replica(redis_server.url)
    for replica in (first, second):
        await replica.feed.start()
    yield first, second
    for replica in (first, second):
        await replica.feed.aclose()
        await replica.redis.aclose()


async def next_change(queue: asyncio.Queue[CustomerChange]) -> CustomerChange:
    return await asyncio.wait_for(queue.get(), 15)


async def test_the_feed_delivers_locally_during_an_outage_and_loses_nothing_after(
    replicas: tuple[Replica, Replica], redis_server: RedisServer
) -> None:
    first, second = replicas
    change = CustomerChange(7, "crm", "note_added")
    async with first.feed.listen(7) as here, second.feed.listen(7) as there:
        await first.bus.publish(change)  # through Redis, to both
        assert (await next_change(here)).kind == "note_added"
        assert (await next_change(there)).kind == "note_added"

        redis_server.kill()
        during = CustomerChange(7, "crm", "task_added")
        await first.bus.publish(during)
        assert await next_change(here) == during  # delivered here at once
        await second.bus.publish(CustomerChange(8, "crm", "opens the breaker"))
        assert not second.redis.breaker.closed

        redis_server.start()
        # The first replica publishes what it accepted meanwhile, and the
        # second, subscribed again, resyncs its listeners: the task reaches
        # it either way.
        await back(second.redis, lambda: second.feed.subscribed)
        await back(first.redis, lambda: first.feed.subscribed)
        kinds = set()
        while not there.empty():
            kinds.add(there.get_nowait().kind)
        assert kinds & {"task_added", RESYNC}

        await first.bus.publish(CustomerChange(7, "crm", "tag_added"))
        while (await next_change(there)).kind != "tag_added":
            pass  # the task, if its publication came late


async def test_listeners_get_a_resync_naming_no_source_after_resubscribing(
    replicas: tuple[Replica, Replica], redis_server: RedisServer
) -> None:
    first, _ = replicas
    async with first.feed.listen(3) as queue:
        redis_server.kill()
        await first.bus.publish(CustomerChange(3, "crm", "x"))  # opens the breaker
        assert (await next_change(queue)).kind == "x"
        redis_server.start()
        resync = await next_change(queue)
    assert (resync.customer_id, resync.source, resync.kind) == (3, ANY_SOURCE, RESYNC)


async def test_closing_stops_a_reader_whose_redis_client_swallowed_the_cancellation(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen once under load with redis-py 8.2's cluster pub/sub: the reader's
    cancellation never reached it, and ``aclose`` (a shutdown) waited forever."""
    swallowed: list[bool] = []
    read = Subscription.next

    async def swallowing(self: Subscription, timeout: float) -> bytes | None:
        try:
            return await read(self, timeout)
        except asyncio.CancelledError:
            swallowed.append(True)
            return None

    monkeypatch.setattr(Subscription, "next", swallowing)
    replica = Replica(redis_server.url)
    await replica.feed.start()
    await asyncio.sleep(0.1)  # the reader waits for a message
    closing = asyncio.ensure_future(replica.feed.aclose())
    done, _ = await asyncio.wait({closing}, timeout=10)  # it polls every second
    await replica.redis.aclose()
    assert closing in done, "aclose waits for a reader that never stops"
    assert swallowed == [True]
    assert not replica.feed.subscribed


async def test_a_miss_waiting_for_another_replicas_fetch_stops_when_redis_dies(
    redis_server: RedisServer,
) -> None:
    shared = SharedRedis.open(redis_server.url, timeout=0.25)
    backend = RedisBackend(shared, 100)
    values = ReadThrough(backend, "outage", TypeAdapter(str), 60, lock_ttl=30)
    fetched: list[list[str]] = []

    async def fetch(keys: Sequence[str]) -> dict[str, str]:
        fetched.append(list(keys))
        return {k: f"value of {k}" for k in keys}

    try:
        # Another replica holds the key's lock, fetching it.
        [(held, _)] = await backend.acquire_many(
            {values.key("k") + ":lock": values.key("k")}, 30, "another replica's"
        )
        assert held
        waiting = asyncio.create_task(values.load_many(["k"], fetch, ""))
        await asyncio.sleep(0.1)
        assert not fetched  # waiting for that replica
        redis_server.kill()
        # Its value could not be seen any more: fetched here, long before the
        # lock's 30 s.
        assert await asyncio.wait_for(waiting, 10) == ["value of k"]
        assert fetched == [["k"]]
    finally:
        await shared.aclose()


async def test_a_server_that_answers_but_refuses_writes_is_not_back(
    redis_server: RedisServer,
) -> None:
    shared = SharedRedis.open(redis_server.url, timeout=0.25)
    admin = Redis.from_url(redis_server.url)
    try:
        # A replica of nothing (as during a failover): every write is READONLY.
        await admin.execute_command("REPLICAOF", "127.0.0.1", "1")
        write = await shared.breaker.run("set", lambda: shared.client.set("k", b"v"))
        assert write is DOWN
        await asyncio.sleep(1.0)  # probes after 0.25 and 0.75 s
        assert await admin.ping()  # it answers…
        assert not shared.breaker.closed  # …but is not back
        await admin.execute_command("REPLICAOF", "NO", "ONE")
        await asyncio.wait_for(shared.breaker.wait_closed(), 15)
    finally:
        await admin.aclose()
        await shared.aclose()


async def test_calls_in_flight_when_an_outage_begins_fail_as_redis_failures(
    redis_server: RedisServer,
) -> None:
    """The breaker drops the pool's connections when it opens; dropping those
    in use under their commands made redis-py raise ``AttributeError`` (a
    ``None`` writer or reader: redis-py issue #2349), which reached views as
    INTERNAL_SERVER_ERROR (the soak, docs/benchmarks.md). Only idle ones are
    dropped: a command on the wire ends as Redis answers or fails it."""
    shared = SharedRedis.open(redis_server.url, timeout=2.0)
    try:
        await shared.client.set("big", b"x" * 2_000_000)
        for round in range(30):
            calls = [
                asyncio.create_task(
                    shared.breaker.run("get", lambda: shared.client.get("big"))
                )
                for _ in range(5)
            ]
            await asyncio.sleep(round % 10 / 1000)  # sending, reading, done
            shared.breaker.failed("get", TimeoutError())  # opens: drops connections
            answers = await asyncio.gather(*calls, return_exceptions=True)
            assert not [a for a in answers if isinstance(a, BaseException)]
            await asyncio.wait_for(shared.breaker.wait_closed(), 15)
    finally:
        await shared.aclose()

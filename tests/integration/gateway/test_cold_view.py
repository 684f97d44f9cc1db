"""What a cold customer 360 view costs the gateway besides its three upstream
calls — SQL statements and Redis round trips, counted — and that what it
fetched is stored, and no lock left behind, once its response is out."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from sqlalchemy import event, select

from bench.queries import CUSTOMER_360
from bench.subject import richest_customer
from gateway.cache.backends import (
    ADD_OR_READ,
    READ_OR_LOCK,
    STORE_IF_HELD,
    RedisBackend,
)
from gateway.db.models import Customer, Identity
from gateway.db.ticket_changes import note_ticket_change
from gateway.guard.bucket import TAKE_ALL, TAKE_READING
from gateway.loaders.upstream import StoredLinksByCustomerLoader
from tests.integration.gateway.conftest import Gateway
from tests.redis_sends import watch_direct_sends


@pytest.fixture
async def gateway(cached: Gateway) -> Gateway:
    """The Redis-backed gateway: round trips and locks are Redis's."""
    caches = cached.services.caches
    if caches is None or not isinstance(caches.backend, RedisBackend):
        pytest.skip("round trips and locks exist with Redis only")
    return cached


@pytest.fixture
def redis(gateway: Gateway) -> RedisBackend:
    caches = gateway.services.caches
    assert caches is not None
    assert isinstance(caches.backend, RedisBackend)
    return caches.backend


SCRIPTS = {
    hashlib.sha1(script.encode()).hexdigest(): name
    for script, name in (
        (TAKE_READING, "EVALSHA take+MGET"),
        (TAKE_ALL, "EVALSHA take_all"),
        (READ_OR_LOCK, "EVALSHA read_or_lock"),
        (STORE_IF_HELD, "EVALSHA store_if_held"),
        (ADD_OR_READ, "EVALSHA add_or_read"),
    )
}


@pytest.fixture
def sent(redis: RedisBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return watching(redis, monkeypatch)


def watching(redis: RedisBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands sent to Redis while the test runs, a pipeline's as one
    entry (one round trip), a script by its name (``SCRIPTS``): the bucket's
    that also reads keys (``gateway.guard.bucket``: a token taken, an
    ``MGET`` of the others), the one taking from several buckets, the
    cache's read that locks what it finds empty and its store under the lock
    (``gateway.cache.backends``).
    A write on the direct link is one round trip too, named the same way; one
    script's calls written together are ``<name> ×<calls>``."""
    sent: list[str] = []
    command = redis.redis.execute_command
    execute = Pipeline.execute

    async def one(*args: Any, **options: Any) -> Any:
        name = str(args[0])
        sent.append(SCRIPTS.get(str(args[1]), name) if name == "EVALSHA" else name)
        return await command(*args, **options)

    async def pipeline(self: Pipeline, raise_on_error: bool = True) -> Any:
        sent.append("+".join(sorted({str(c[0][0]) for c in self.command_stack})))
        return await execute(self, raise_on_error)

    def direct(commands: list[tuple[str, str]]) -> None:  # one write, as a pipeline
        named = {SCRIPTS.get(a, n) if n == "EVALSHA" else n for n, a in commands}
        if len(named) == 1:  # one command, or one script's calls of a turn
            (name,) = named
            sent.append(name if len(commands) == 1 else f"{name} ×{len(commands)}")
        else:
            sent.append("+".join(sorted({name for name, _ in commands})))

    monkeypatch.setattr(redis.redis, "execute_command", one)
    monkeypatch.setattr(Pipeline, "execute", pipeline)
    watch_direct_sends(monkeypatch, direct)
    return sent


@pytest.fixture
def statements(gateway: Gateway) -> Iterator[list[str]]:
    """The SQL statements the gateway sends while the test runs, without the
    audit log's: it writes behind, on its own timer, so an earlier request's
    rows may go in during the view."""
    sent: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "audit_log" in statement or statement.lstrip().upper().startswith("PRAGMA"):
            return
        sent.append(statement)

    engine = gateway.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    yield sent
    event.remove(engine, "before_cursor_execute", before)


async def view(gateway: Gateway) -> None:
    subject = richest_customer(gateway.world, gateway.simulators)
    result = await gateway.gql(CUSTOMER_360.document, {"id": subject.global_id})
    assert "errors" not in result, result
    assert result["data"]["customer"]["orders"]["edges"]


async def zendesk_link(gateway: Gateway) -> str:
    subject = richest_customer(gateway.world, gateway.simulators)
    async with gateway.services.sessions() as session:
        found = await session.scalar(
            select(Identity.external_id).where(
                Identity.customer_id == subject.customer_id,
                Identity.source == "zendesk",
            )
        )
    assert found is not None
    return found


async def commands(cluster: RedisCluster) -> Counter[str]:
    """Calls per command every master counted since its stats were reset."""
    stats = await cluster.info("commandstats", target_nodes=RedisCluster.PRIMARIES)
    calls: Counter[str] = Counter()
    for node in stats.values():
        for name, stat in node.items():
            calls[name.removeprefix("cmdstat_")] += int(stat["calls"])
    return calls


async def cached_keys(gateway: Gateway, redis: RedisBackend) -> list[str]:
    prefix = gateway.services.settings.cache_prefix
    return [
        k.decode() async for k in redis.redis.scan_iter(match=f"{prefix}:*", count=1000)
    ]


async def test_a_cold_360_view_costs_few_statements_and_redis_round_trips(
    gateway: Gateway, redis: RedisBackend, statements: list[str], sent: list[str]
) -> None:
    await view(gateway)  # links the customer
    await redis.redis.delete(*await cached_keys(gateway, redis))
    gateway.simulators.reset_counts()
    statements.clear()
    sent.clear()
    cluster = redis.redis if isinstance(redis.redis, RedisCluster) else None
    if cluster is not None:
        await cluster.config_resetstat(target_nodes=RedisCluster.PRIMARIES)
    await view(gateway)
    assert gateway.simulators.total_requests() == {
        "shopify": 1,
        "zendesk": 1,
        "posthog": 1,
    }
    # the customer; every source's link, read as the executor starts on the
    # customer (gateway.http.fragments), not through the links' cache, with
    # whether PostHog's event mirror answers for the person (it does not:
    # empty here, so the person goes to the live fallback unread there) and
    # whether a webhook announced a ticket of the Zendesk user within
    # search's lag (none: the tickets announced are not read); addresses,
    # tags, consents and loyalty in one (ProfileByCustomerLoader)
    assert len(statements) == 3, [s.split("\n")[0][:80] for s in statements]
    assert not [s for s in statements if s.startswith("SELECT posthog_events")]
    if cluster is not None:
        # The response versions (global, customer's) were flushed too: each
        # is created (SET NX) and read back before the view executes.
        # A cluster pipeline sends each command to its slot's node, and a
        # batch's MGET is one per slot: the commands are what is counted.
        counted = await commands(cluster)
        # three misses: orders, tickets, activity, each read and locked in
        # one script (a key and its lock share a slot); a script's own
        # commands are counted too
        assert {c: counted[c] for c in ("evalsha", "mget", "get", "set", "del")} == {
            # the rate limit; each upstream's budget, Zendesk's search's
            # with Zendesk's; each miss's read
            # each miss's store; each version created (one per slot)
            "evalsha": 1 + 3 + 3 + 3 + 2,
            "mget": 2,  # the stored response, apart: its slot, the global one
            "get": 2 + 3 + 3,  # the versions; each miss's key; its lock, stored
            "set": 2 + 3 + 1 + 3,  # the versions, locks, response, values
            "del": 3,  # the locks released
        }
        return
    assert Counter(sent) == {
        # the request was seen before: its rate-limit token and its stored
        # response (missing) read in one round trip
        "EVALSHA take+MGET": 1,
        # orders, tickets, activity: each read, and locked as it misses, in
        # one write (the live fallback's loader sends its batch at once:
        # CachedLoader.load_now)
        "EVALSHA read_or_lock ×3": 1,
        # each upstream's budget (the live fallback spends PostHog's), in
        # one command with its endpoint's (Zendesk search's with Zendesk's);
        # the three in one write, so the three calls leave together
        "EVALSHA take_all ×3": 1,
        # the response versions created (flushed with the rest: each SET NX
        # with a read, one script), beside the execution
        "EVALSHA add_or_read": 1,
        "SET": 1,  # the response stored
        # each miss stored and its lock released together, where the lock is
        # still its fetch's (one script; each as its answer came in)
        "EVALSHA store_if_held": 3,
    }


async def test_a_ticket_announced_lately_is_read_with_the_view(
    gateway: Gateway, redis: RedisBackend, statements: list[str]
) -> None:
    """A ticket webhook within Zendesk search's lag: the links' statement
    says so, and the view reads the tickets announced (one statement more)
    and asks Zendesk for them past its search."""
    await view(gateway)  # links the customer
    requester = await zendesk_link(gateway)
    async with gateway.services.sessions() as session, session.begin():
        await note_ticket_change(session, "ticket-announced", requester, lag=60)
    await redis.redis.delete(*await cached_keys(gateway, redis))
    gateway.simulators.reset_counts()
    statements.clear()
    await view(gateway)
    read = [s for s in statements if s.startswith("SELECT zendesk_ticket_changes")]
    assert len(read) == 1, [s.split("\n")[0][:80] for s in statements]
    assert len(statements) == 4
    assert gateway.simulators.total_requests()["zendesk"] == 2  # search, show_many


async def test_a_cold_view_leaves_its_values_stored_and_no_lock_behind(
    gateway: Gateway, redis: RedisBackend
) -> None:
    await view(gateway)
    keys = await cached_keys(gateway, redis)
    assert not [k for k in keys if k.endswith(":lock")]
    assert {k.split(":")[1] for k in keys} >= {
        "links",
        "shopify.order_lines",  # the view shows line items, no line totals
        "zendesk.tickets",
        "posthog.activity",
        "response",
    }


async def test_a_warm_view_costs_one_redis_round_trip(
    gateway: Gateway, redis: RedisBackend, sent: list[str]
) -> None:
    """The request was seen before: its rate-limit token is taken and its
    stored answer read in one command. A cluster keeps the two apart: the
    caller's bucket and the answer live in different slots."""
    if isinstance(redis.redis, RedisCluster):
        pytest.skip("a cluster's bucket and answer live on different nodes")
    await view(gateway)  # stored
    await view(gateway)  # a hit: the request is known
    sent.clear()
    await view(gateway)
    assert sent == ["EVALSHA take+MGET"]


async def test_a_warm_view_loads_a_script_redis_lost_and_is_still_served(
    gateway_on_own_redis: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a server of the test's own: the flush reaches no other test."""
    alone = gateway_on_own_redis
    caches = alone.services.caches
    assert caches is not None
    assert isinstance(caches.backend, RedisBackend)
    await view(alone)  # stored
    await view(alone)  # a hit: the request is known
    await caches.backend.redis.script_flush()  # Redis restarted, or flushed
    sent = watching(caches.backend, monkeypatch)
    await view(alone)  # the script loaded again, the answer still served
    assert sent == ["EVALSHA take+MGET", "SCRIPT LOAD", "EVALSHA take+MGET"]
    sent.clear()
    await view(alone)
    assert sent == ["EVALSHA take+MGET"]


PROFILE_ONLY = "query($id: ID!) { customer(id: $id) { id email tags } }"
THROUGH_FRAGMENTS = """
query($id: ID!) { customer(id: $id) { id ...Sidebar } }
fragment Sidebar on Customer { email ... on Customer { orders(first: 1) { totalCount } } }
"""
PAGE = "{ customers(first: 50) { edges { node { id openTicketCount lastSeenAt } } } }"


def link_reads(statements: list[str]) -> int:
    return sum("FROM identities" in s for s in statements)


async def test_links_are_read_with_the_customer_when_its_selection_reads_an_upstream(
    gateway: Gateway, redis: RedisBackend, statements: list[str], sent: list[str]
) -> None:
    """The links' statement goes out as the executor starts on a customer,
    through fragments too, never through the links' cache; a selection
    without an upstream field reads none."""
    subject = richest_customer(gateway.world, gateway.simulators)
    await view(gateway)  # links the customer
    await redis.redis.delete(*await cached_keys(gateway, redis))
    statements.clear()
    result = await gateway.gql(PROFILE_ONLY, {"id": subject.global_id})
    assert "errors" not in result, result
    assert link_reads(statements) == 0
    statements.clear()
    sent.clear()
    result = await gateway.gql(THROUGH_FRAGMENTS, {"id": subject.global_id})
    assert "errors" not in result, result
    assert result["data"]["customer"]["orders"]["totalCount"] > 0
    assert link_reads(statements) == 1
    assert not [k for k in await cached_keys(gateway, redis) if ":links:" in k]


async def test_a_customer_asked_for_by_id_has_its_links_read_with_it(
    gateway: Gateway,
    redis: RedisBackend,
    statements: list[str],
) -> None:
    """``customer(id:)`` reading an upstream: the links' statement goes out
    as the customer's is asked for (first: it is urgent), not once the
    customer is read; by email, the id is known only then."""
    subject = richest_customer(gateway.world, gateway.simulators)
    await view(gateway)  # links the customer
    await redis.redis.delete(*await cached_keys(gateway, redis))
    statements.clear()
    await view(gateway)
    assert link_reads(statements[:1]) == 1
    assert "FROM customers" in statements[1], statements[1]
    await redis.redis.delete(*await cached_keys(gateway, redis))
    statements.clear()
    async with gateway.services.sessions() as session:
        email = await session.scalar(
            select(Customer.email).where(Customer.id == subject.customer_id)
        )
    by_email = CUSTOMER_360.document.replace("$id: ID!", "$email: String!")
    result = await gateway.gql(
        by_email.replace("customer(id: $id)", "customer(email: $email)"),
        {"email": email},
    )
    assert "errors" not in result, result
    assert link_reads(statements) == 1
    assert "FROM customers" in statements[0], statements[0]


@pytest.mark.parametrize(
    ("customer_id", "code"),
    [
        ("Q3VzdG9tZXI6OTk5OTk5", None),  # Customer:999999: no such customer
        ("not-an-id", "BAD_USER_INPUT"),
        ("T3JkZXI6MQ==", "BAD_USER_INPUT"),  # Order:1
    ],
)
async def test_an_id_of_no_customer_reads_nothing_upstream(
    gateway: Gateway, customer_id: str, code: str | None
) -> None:
    gateway.simulators.reset_counts()
    result = await gateway.gql(CUSTOMER_360.document, {"id": customer_id})
    if code is None:
        assert result == {"data": {"customer": None}}
    else:
        assert [e["extensions"]["code"] for e in result["errors"]] == [code]
    assert sum(gateway.simulators.total_requests().values()) == 0


async def test_a_page_reads_its_customers_links_in_one_statement(
    gateway: Gateway, redis: RedisBackend, statements: list[str]
) -> None:
    await gateway.gql(PAGE)  # links the page's customers
    await redis.redis.delete(*await cached_keys(gateway, redis))
    gateway.simulators.reset_counts()
    statements.clear()
    result = await gateway.gql(PAGE)
    assert "errors" not in result, result
    assert len(result["data"]["customers"]["edges"]) == 50
    assert link_reads(statements) == 1
    assert gateway.simulators.total_requests() == {
        "shopify": 0,
        "zendesk": 1,
        "posthog": 1,
    }


async def test_a_failed_links_read_leaves_each_field_to_load_its_link(
    gateway: Gateway, redis: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefetch is a head start, not a dependency: when its statement
    fails, each source's link is loaded the usual way and the view answers."""
    await view(gateway)  # links the customer
    await redis.redis.delete(*await cached_keys(gateway, redis))
    failed: list[int] = []

    async def failing(self: StoredLinksByCustomerLoader, ids: list[int]) -> None:
        failed.extend(ids)
        raise ConnectionError("the database went away for a moment")

    monkeypatch.setattr(StoredLinksByCustomerLoader, "batch_load_fn", failing)
    gateway.simulators.reset_counts()
    await view(gateway)
    assert len(failed) == 1
    assert gateway.simulators.total_requests() == {
        "shopify": 1,
        "zendesk": 1,
        "posthog": 1,
    }

"""The read-through cache: warm queries cost no upstream call, changes evict
exactly the customer they touch, Redis outages are survived, and replicas
sharing one Redis see each other's invalidations."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.demo_world import World
from connectors.posthog.client import REST_LOOKUPS
from connectors.posthog.simulator.server import PostHogSimulator
from gateway.cache.backends import MemoryBackend, RedisBackend
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.demo.simulation import Simulators
from gateway.relay.ids import decode_global_id
from gateway.runtime.services import Services
from tests.integration.gateway.conftest import Gateway, open_gateway

pytestmark = [pytest.mark.storage_independent, pytest.mark.single_redis]

PAGE = """
query($n: Int!) { customers(first: $n, orderBy: EMAIL_ASC) { edges { node { id
  email orders(first: 5) { edges { node { name } } } openTicketCount lastSeenAt } } } }
"""


async def page_ids(gateway: Gateway, n: int) -> list[str]:
    result = await gateway.gql(PAGE, {"n": n})
    assert "errors" not in result, result
    return [e["node"]["id"] for e in result["data"]["customers"]["edges"]]


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_a_second_identical_query_makes_no_upstream_call(
    cached: Gateway, n: int
) -> None:
    await page_ids(cached, n)
    cold = cached.simulators.total_requests()
    assert cold["posthog"] >= 1
    cached.simulators.reset_counts()
    await page_ids(cached, n)
    assert cached.simulators.total_requests() == {
        "shopify": 0,
        "zendesk": 0,
        "posthog": 0,
    }


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_cold_calls_per_connector_do_not_grow_with_the_page(
    cached: Gateway, n: int
) -> None:
    """Linked customers, cold cache: one call per connector and level — Shopify
    splits a level into concurrent calls of 55 customers (its query-cost cap)."""
    ids = await page_ids(cached, n)  # links identities
    await cached.services.changes.publish(  # evicts the page: the cache is cold again
        *[CustomerChange(customer_id=pk(i), source="crm", kind="x") for i in ids]
    )
    cached.simulators.reset_counts()
    await page_ids(cached, n)
    posthog = cached.simulators.posthog
    zendesk = cached.simulators.zendesk.requests
    # lastSeenAt of the page: one HogQL query, none when every person of it
    # was found quiet the first time (remembered: gateway.mirror.fallback)
    active = await unchecked_persons(cached.services, [pk(i) for i in ids])
    assert posthog.queries["events"] == (1 if active else 0)
    assert zendesk["search"] == 1  # tickets of every requester: one search
    # Customers unknown upstream are looked up again (the eviction forgot that):
    # batched on both, by email and then by phone for those still unknown.
    assert zendesk["users/search"] <= 2
    assert_person_lookups(posthog, kinds=2)
    shopify = cached.simulators.shopify
    assert shopify.operations["nodes"] == -(-n // 55)
    assert shopify.requests.total <= shopify.operations["nodes"] + 2


async def unchecked_persons(services: Services, customer_ids: list[int]) -> set[str]:
    """The customers' PostHog distinct ids the mirror cannot answer for."""
    async with services.sessions() as session:
        linked = set(
            await session.scalars(
                select(models.Identity.external_id).where(
                    models.Identity.source == "posthog",
                    models.Identity.customer_id.in_(customer_ids),
                )
            )
        )
        checked = set(
            await session.scalars(select(models.PostHogPersonCheck.distinct_id))
        )
    return linked - checked


async def test_first_links_of_a_page_are_one_persons_query_per_contact_kind(
    cached: Gateway,
) -> None:
    await page_ids(cached, 50)
    posthog = cached.simulators.posthog
    assert posthog.queries["events"] == 1
    assert posthog.queries["person_distinct_ids"] >= 1  # 50 emails: HogQL
    assert_person_lookups(posthog, kinds=2)  # by email, by phone
    assert posthog.requests.total == (
        posthog.requests["query"] + posthog.requests["persons"]
    )


def assert_person_lookups(posthog: PostHogSimulator, *, kinds: int) -> None:
    """At most one look-up of persons per contact kind: a HogQL query, or
    (for at most ``REST_LOOKUPS`` values) a persons call per value."""
    assert posthog.queries["person_distinct_ids"] <= kinds
    assert posthog.requests["persons"] <= kinds * REST_LOOKUPS


VIEW_360 = """
query($n: Int!, $events: Int!) { customers(first: $n, orderBy: EMAIL_ASC) {
  edges { node { id email activity(first: $events) { edges { node { id occurredAt } } }
  lastSeenAt sessionsCount } } } }
"""


async def forget_posthog_data(gateway: Gateway) -> None:
    """Cold PostHog data, warm links: what a TTL expiry leaves behind."""
    caches = gateway.services.caches
    assert caches is not None
    async with gateway.services.sessions() as session:
        distinct_ids = list(
            await session.scalars(
                select(models.Identity.external_id).where(
                    models.Identity.source == "posthog"
                )
            )
        )
    for namespace in caches.by_external_id("posthog"):
        await namespace.forget(distinct_ids)
    await expire_responses(gateway)


async def expire_responses(gateway: Gateway) -> None:
    """Whole responses and customer fragments expired too, as they are when
    an upstream value's TTL passed (``CG_RESPONSE_CACHE_TTL`` is shorter)."""
    assert gateway.services.responses is not None
    await gateway.services.responses.forget_all()


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_activity_last_seen_and_sessions_cost_one_posthog_query(
    cached: Gateway, n: int
) -> None:
    variables = {"n": n, "events": 50 if n == 1 else 20}  # 50 × 50 is too costly
    first = await cached.gql(VIEW_360, variables)  # links identities
    assert "errors" not in first, first
    await forget_posthog_data(cached)
    cached.simulators.reset_counts()
    cold = await cached.gql(VIEW_360, variables)
    assert cold == first
    posthog = cached.simulators.posthog
    # none when every person was found quiet the first time (remembered)
    ids = [pk(e["node"]["id"]) for e in first["data"]["customers"]["edges"]]
    queries = 1 if await unchecked_persons(cached.services, ids) else 0
    assert posthog.requests.total == posthog.requests["query"] == queries
    cached.simulators.reset_counts()
    assert await cached.gql(VIEW_360, variables) == first
    assert cached.simulators.total_requests()["posthog"] == 0
    customers = [e["node"] for e in cold["data"]["customers"]["edges"]]
    assert_matches_the_simulator(posthog, customers, variables["events"])


def assert_matches_the_simulator(
    posthog: PostHogSimulator, customers: list, events: int
) -> None:
    """Events, last seen and sessions as PostHog recorded them for the email."""
    analytics = posthog.analytics
    now = datetime.now(UTC)
    for customer in customers:
        email = customer["email"]
        if email not in analytics.by_distinct_id:
            assert customer["lastSeenAt"] is None
            continue
        mine = [
            e
            for e in analytics.events_of(analytics.by_distinct_id[email])
            if e["distinct_id"] == email
        ]
        recent = [e for e in mine if e["timestamp"] >= now - timedelta(days=90)]
        edges = customer["activity"]["edges"]
        assert [e["node"]["id"] for e in edges] == [e["uuid"] for e in recent[:events]]
        seen = customer["lastSeenAt"]
        assert (datetime.fromisoformat(seen) if seen else None) == (
            mine[0]["timestamp"] if mine else None
        )
        month = now - timedelta(days=30)
        sessions = {
            e["properties"]["$session_id"] for e in mine if e["timestamp"] >= month
        }
        assert customer["sessionsCount"] == len(sessions)


async def test_a_page_of_last_seen_reads_no_events(cached: Gateway) -> None:
    await page_ids(cached, 50)
    await forget_posthog_data(cached)
    cached.simulators.reset_counts()
    posthog = cached.simulators.posthog
    await page_ids(cached, 50)
    assert posthog.requests.total == 1
    assert posthog.queries["events"] == 1
    assert len(posthog.last_results) <= 2 * 50  # two summary rows a person, no events


async def test_a_change_sends_only_that_customer_upstream_again(
    cached: Gateway,
) -> None:
    ids = await page_ids(cached, 10)
    cached.simulators.reset_counts()
    await cached.services.changes.publish(
        CustomerChange(customer_id=pk(ids[3]), source="shopify", kind="orders/create")
    )
    await page_ids(cached, 10)
    calls = cached.simulators.total_requests()
    assert calls["posthog"] == 1  # only the touched customer's last-seen
    assert cached.simulators.posthog.requests.total == 1
    cached.simulators.reset_counts()
    await page_ids(cached, 10)
    assert cached.simulators.total_requests() == {
        "shopify": 0,
        "zendesk": 0,
        "posthog": 0,
    }


async def test_concurrent_identical_queries_share_one_upstream_call(
    cached: Gateway,
) -> None:
    await page_ids(cached, 5)  # link
    await cached.services.changes.publish(
        *[CustomerChange(customer_id=i, source="crm", kind="x") for i in range(1, 6)]
    )
    cached.simulators.reset_counts()
    await asyncio.gather(*(page_ids(cached, 5) for _ in range(8)))
    assert cached.simulators.posthog.requests.total == 1


def pk(global_id: str) -> int:
    return decode_global_id(global_id, "Customer")[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own, which the test may kill."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    command = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait()


async def test_queries_keep_answering_while_redis_is_down(
    seeded: Services,
    simulators: Simulators,
    world: World,
    own_redis: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = own_redis
    settings = seeded.settings.model_copy(update={"redis_url": url})
    async with open_gateway(settings, simulators, world) as gateway:
        warm = await page_ids(gateway, 5)
        process.kill()
        process.wait()
        simulators.reset_counts()
        assert await page_ids(gateway, 5) == warm  # from upstream, no error
        assert simulators.total_requests()["posthog"] >= 1


async def test_replicas_sharing_redis_see_each_others_invalidations(
    replicas: tuple[Gateway, Gateway],
    simulators: Simulators,
) -> None:
    first, second = replicas
    ids = await page_ids(first, 5)
    simulators.reset_counts()
    await page_ids(second, 5)  # warm through the shared Redis
    assert simulators.total_requests() == {"shopify": 0, "zendesk": 0, "posthog": 0}
    # a customer PostHog has seen lately: the quiet are answered locally
    touched = [pk(i) for i in ids if await unchecked_persons(first.services, [pk(i)])]
    assert touched
    await second.services.changes.publish(
        CustomerChange(customer_id=touched[0], source="zendesk", kind="ticket.created")
    )
    await page_ids(first, 5)
    assert simulators.total_requests()["posthog"] == 1


async def forget_every_cached_value(gateway: Gateway) -> None:
    """A cold cache without a change announced: a Redis flush, a restart."""
    caches = gateway.services.caches
    assert caches is not None
    backend = caches.backend
    if isinstance(backend, MemoryBackend):
        await backend.aclose()  # empties it
    else:
        assert isinstance(backend, RedisBackend)
        prefix = gateway.services.settings.cache_prefix
        keys = [
            k async for k in backend.redis.scan_iter(match=f"{prefix}:*", count=1000)
        ]
        if keys:
            await backend.redis.delete(*keys)


async def test_customers_unknown_upstream_are_not_looked_up_again_when_cold(
    cached: Gateway,
) -> None:
    ids = await page_ids(cached, 50)  # links, and remembers who has no match
    await forget_every_cached_value(cached)
    cached.simulators.reset_counts()
    assert await page_ids(cached, 50) == ids
    assert cached.simulators.shopify.operations["customers"] == 0
    assert cached.simulators.zendesk.requests["users/search"] == 0
    assert cached.simulators.posthog.queries["person_distinct_ids"] == 0
    # A change to a customer looks them up again (their email may be new).
    await cached.services.changes.publish(
        *[CustomerChange(customer_id=pk(i), source="crm", kind="x") for i in ids]
    )
    await forget_every_cached_value(cached)
    cached.simulators.reset_counts()
    await page_ids(cached, 50)
    assert cached.simulators.zendesk.requests["users/search"] >= 1

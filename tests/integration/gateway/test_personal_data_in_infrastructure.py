"""No contact data in infrastructure: one customer's email, phone and name are
marker strings, in our database and in every simulator. The gateway reads
that customer (the 360 view with PostHog activity, a look-up by email, a
search), receives an identify with those traits, tracks and a refused message
through the ingest, a Shopify and a PostHog webhook (each twice), mutations
(one refused, one under a JWT whose subject is an email); then no Redis key,
pub/sub channel, metrics line or log record (``gateway.*``, ``connectors.*``,
``httpx`` and ``httpcore`` at DEBUG, tracebacks included) holds a marker —
while the cache still answers and a change still evicts the customer's keys."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import cached_property

import httpx
import jwt
import pytest
from pydantic import SecretStr
from redis.asyncio.cluster import RedisCluster
from strawberry.relay import GlobalID

from connectors.demo_world import World, WorldCustomer
from connectors.posthog.destination import SECRET_HEADER
from connectors.posthog.simulator.destination import WebhookDestination
from gateway.app import create_app
from gateway.cache.backends import RedisBackend
from gateway.demo.simulation import (
    GENEROUS,
    POSTHOG_WEBHOOK_SECRET,
    Simulators,
    simulated_upstreams,
)
from gateway.runtime.services import Services
from gateway.shared_redis.client import SharedRedis
from tests.integration.gateway.conftest import Gateway, open_gateway

pytestmark = pytest.mark.storage_independent

EMAIL = "marker-7f3a@pii.example"
PHONE = "+4915730917373"
FIRST, LAST = "Quillonia", "Markerbaum"
MARKERS = ("marker-7f3a", "pii.example", PHONE[1:], FIRST, LAST)
"""What must appear nowhere (the phone without its ``+``: it may be encoded)."""
MARKED = 2
"""The world's customer who carries them: in every upstream, with orders,
tickets and web activity."""
STAFF = "marker-7f3a.staff@pii.example"
"""A colleague's JWT subject: an email too (its rate-limit bucket is a key)."""
JWT_SECRET = "pii-test-jwt-secret-0123456789abcdef"
WRITE_KEY = "wk_test_pii_server"
LOGGERS = ("gateway", "connectors", "httpx", "httpcore")

VIEW = """
query($id: ID!, $email: String!) {
  customer(id: $id) {
    email phone firstName lastName displayName lastSeenAt sessionsCount
    orders(first: 5) { edges { node { name } } }
    tickets(first: 5) { edges { node { subject } } }
    activity(first: 5) { edges { node { name path } } }
    timeline(first: 10) { edges { node { __typename } } }
  }
  byEmail: customer(email: $email) { id }
  customers(search: $email, first: 3) { edges { node { id } } }
}
"""
NOTE = """
mutation($id: ID!, $phone: String!) {
  updateCustomer(id: $id, input: {phone: $phone, firstName: "Quillonia"}) { id }
  addNote(customerId: $id, body: "called Quillonia Markerbaum") { id }
}
"""


class MarkedWorld(World):
    """``World``, its customer ``MARKED`` carrying the markers."""

    @cached_property
    def customers(self) -> tuple[WorldCustomer, ...]:
        people = list(World.customers.func(self))  # type: ignore[attr-defined]
        people[MARKED] = dataclasses.replace(
            people[MARKED], email=EMAIL, phone=PHONE, first_name=FIRST, last_name=LAST
        )
        return tuple(people)


@pytest.fixture(scope="module")
def world() -> World:
    return MarkedWorld(seed=18, size=6)


@pytest.fixture(scope="module")
async def simulators(world: World) -> AsyncIterator[Simulators]:
    async with simulated_upstreams(world, posthog_queries_per_hour=GENEROUS) as running:
        yield running


@pytest.fixture
async def gateway(
    seeded: Services,
    simulators: Simulators,
    world: World,
    redis_url: str,
    cache_prefix: str,
) -> AsyncIterator[Gateway]:
    """The gateway on the real Redis (this test's prefix), the ingest's
    server write key set, logs of every level captured."""
    settings = seeded.settings.model_copy(
        update={
            "redis_url": redis_url,
            "cache_prefix": cache_prefix,
            "ingest_server_write_key": SecretStr(WRITE_KEY),
            "jwt_secret": SecretStr(JWT_SECRET),
        }
    )
    async with open_gateway(settings, simulators, world) as opened:
        yield opened


def leaks(texts: list[str]) -> list[str]:
    """The texts that hold a marker."""
    return [t for t in texts if any(m.lower() in t.lower() for m in MARKERS)]


async def redis_names(redis_url: str) -> list[str]:
    """Every key of the test's Redis database, and every pub/sub channel
    (on a cluster: of every master, sharded ones)."""
    shared = SharedRedis.open(redis_url, timeout=1.0)
    redis = shared.client
    try:
        keys = [k.decode() async for k in redis.scan_iter(count=1000)]
        if isinstance(redis, RedisCluster):
            channels: list[bytes] = []
            for node in redis.get_primaries():
                channels += await redis.execute_command(
                    "PUBSUB SHARDCHANNELS", target_nodes=node
                )
        else:
            channels = await redis.pubsub_channels()
    finally:
        await shared.aclose()
    return keys + [c.decode() for c in channels]


async def view(gateway: Gateway) -> None:
    """The marked customer's view, by id, by email and by search."""
    customer_id = str(GlobalID("Customer", str(MARKED + 1)))
    answer = await gateway.gql(VIEW, {"id": customer_id, "email": EMAIL})
    assert "errors" not in answer, answer
    customer = answer["data"]["customer"]
    assert customer["email"] == EMAIL
    assert customer["orders"]["edges"]
    assert customer["tickets"]["edges"]
    assert customer["activity"]["edges"]
    assert answer["data"]["byEmail"]["id"] == customer_id


async def view_through_redis(gateway: Gateway) -> None:
    """``view``, sent again if a Redis call timed out meanwhile: on a machine
    this busy the event loop may be held past ``CG_REDIS_TIMEOUT``, and the
    breaker then answers in process, so nothing reaches the keys this test
    reads (the breaker's own behaviour has tests of its own)."""
    shared = gateway.services.redis
    assert shared is not None
    for _ in range(3):
        outages = shared.breaker.outages
        gateway.simulators.reset_counts()
        await view(gateway)
        if shared.breaker.outages == outages:
            return
        await asyncio.wait_for(shared.breaker.wait_closed(), 15)
    raise AssertionError("Redis timed out during three views in a row")


async def change(gateway: Gateway) -> None:
    """The marked customer identified and tracked through the ingest, changed
    by a Shopify and a PostHog webhook and by mutations (the admin's, then a
    colleague's, whose JWT subject is an email)."""
    customer_id = str(GlobalID("Customer", str(MARKED + 1)))
    transport = httpx.ASGITransport(app=create_app(services=gateway.services))
    ingest = httpx.AsyncClient(
        transport=transport, base_url="http://gw", auth=(WRITE_KEY, "")
    )
    async with ingest:
        traits = {"email": EMAIL, "phone": PHONE, "firstName": FIRST, "lastName": LAST}
        identify = {"userId": EMAIL, "anonymousId": EMAIL, "traits": traits}
        assert (await ingest.post("/v1/identify", json=identify)).status_code == 200
        track = {"userId": EMAIL, "event": "Viewed", "properties": {"email": EMAIL}}
        assert (await ingest.post("/v1/track", json=track)).status_code == 200
        refused = {"type": "track", "messageId": EMAIL, "event": "Viewed"}  # no user
        batch = {"batch": [{"type": "track", **track}, refused]}
        answer = await ingest.post("/v1/batch", json=batch)
        assert answer.status_code == 200, answer.text  # the refusal is logged
    shopify = gateway.simulators.shopify
    for status in ("processed", "duplicate"):  # a duplicate is logged
        answer = await shopify.send_webhook(
            gateway.http,
            "customers/update",
            shopify.customer_payload(MARKED),
            webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",  # Shopify's: a UUID
        )
        assert answer.json() == {"status": status}, answer.text
    analytics = gateway.simulators.posthog.analytics
    event = analytics.capture(
        EMAIL, "$pageview", {"$pathname": "/p/1"}, gateway.world.now + timedelta(1)
    )
    destination = WebhookDestination(
        "http://gw/webhooks/posthog", {SECRET_HEADER: POSTHOG_WEBHOOK_SECRET}
    )
    statuses = await destination.deliver(analytics, [event] * 2, transport=transport)
    assert statuses == [200, 200]
    changed = await gateway.gql(NOTE, {"id": customer_id, "phone": PHONE})
    assert "errors" not in changed, changed
    refused = await gateway.gql(NOTE, {"id": customer_id, "phone": f"{PHONE}000000"})
    (error,) = refused["errors"]  # logged, and its message names no value
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert leaks([error["message"]]) == []
    colleague = jwt.encode(
        {"sub": STAFF, "exp": int(time.time()) + 60, "roles": ["sales"]},
        JWT_SECRET,
        algorithm="HS256",
    )
    answer = await gateway.http.post(
        "/graphql",
        json={"query": NOTE, "variables": {"id": customer_id, "phone": PHONE}},
        headers={"Authorization": f"Bearer {colleague}"},
    )
    assert answer.status_code == 200, answer.text


async def test_no_marker_in_redis_keys_channels_metrics_or_logs(
    gateway: Gateway,
    redis_url: str,
    cache_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    caches = gateway.services.caches
    assert caches is not None
    assert isinstance(caches.backend, RedisBackend)
    await view_through_redis(gateway)
    cached = [n for n in await redis_names(redis_url) if n.startswith(cache_prefix)]
    await view_through_redis(gateway)  # from the cache
    assert gateway.simulators.total_requests()["posthog"] == 0
    names = await redis_names(redis_url)
    await change(gateway)  # evicts the customer's keys
    evicted = set(cached) - set(await redis_names(redis_url))
    assert any(":posthog.activity:" in k for k in evicted), cached
    await view(gateway)
    names += await redis_names(redis_url)

    metrics = (await gateway.http.get("/metrics")).text
    line = logging.Formatter("%(name)s %(message)s")
    records = [
        line.format(r)
        for r in caplog.records
        if ".simulator" not in r.name  # the upstreams' own logs
    ]
    logged = " ".join(records)
    assert "httpx HTTP Request" in logged
    assert "ingest refused 1 of 2 messages" in logged
    assert "customers/update: duplicate delivery" in logged
    assert leaks(names) == []
    assert leaks(metrics.splitlines()) == []
    assert leaks(records) == []

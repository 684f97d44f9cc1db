"""``customerTimeline`` over a real WebSocket (graphql-transport-ws, the
``websockets`` client) against gateways served by uvicorn on loopback: a signed
Shopify webhook reaches a subscriber, so does a page view that PostHog's
destination delivers, an unknown customer gets an error then ``complete``, and
with Redis a subscriber on one replica receives what another replica accepted.
Each event must come within ``next_event``'s wait (5 s): how soon it comes is
measured by ``python -m bench.live`` (docs/benchmarks.md, "Live timeline"),
not asserted here; the tests print it."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from strawberry.relay import to_base64

from bench.redis_server import RedisServer
from connectors.demo_world import CATALOG
from connectors.posthog.destination import SECRET_HEADER
from connectors.posthog.simulator.destination import WebhookDestination
from gateway.changes.bus import CustomerChange
from gateway.db.models import utcnow
from gateway.demo.simulation import POSTHOG_WEBHOOK_SECRET
from gateway.sync.backfill import link_customers
from tests.conftest import ANSWER_WAIT, called
from tests.e2e.live_gateway import AUTH, live_gateways, subscribe

TAG = (
    "mutation($c: ID!, $t: String!) { tagCustomer(customerId: $c, tags: [$t]) { id } }"
)


async def add_tag(base_url: str, customer: str, tag: str) -> None:
    """A CRM change whose summary (``Tag <tag> added``) every role may read."""
    async with httpx.AsyncClient(
        base_url=base_url, headers=AUTH, timeout=ANSWER_WAIT
    ) as http:
        response = await http.post(
            "/graphql", json={"query": TAG, "variables": {"c": customer, "t": tag}}
        )
    assert "errors" not in response.json(), response.json()


async def test_a_signed_shopify_webhook_reaches_the_subscriber(
    tmp_path: Path,
):
    async with live_gateways(tmp_path) as ([gateway], simulators):
        index = 3
        customer = to_base64("Customer", index + 1)
        async with subscribe(gateway.ws_url, customer) as live:
            await live.until_live(partial(add_tag, gateway.base_url, customer))

            order = simulators.shopify.add_order(index, [(CATALOG[0], 2)])
            started = time.perf_counter()
            response = await simulators.shopify.send_webhook(
                f"{gateway.base_url}/webhooks/shopify",
                "orders/create",
                simulators.shopify.order_payload(order),
            )
            accepted = time.perf_counter() - started
            event = await live.next_event()
            latency = time.perf_counter() - started
            print(f"webhook answered after {accepted * 1000:.1f} ms")
            print(f"webhook to subscriber: {latency * 1000:.1f} ms")
        assert response.status_code == 200, response.text
        assert event["__typename"] == "OrderPlaced"
        assert event["source"] == "SHOPIFY"
        assert order["name"] in event["summary"]


async def test_a_page_view_posthog_delivers_reaches_the_subscriber(
    tmp_path: Path,
):
    async with live_gateways(tmp_path) as ([gateway], simulators):
        posthog = gateway.services.upstreams.posthog
        assert posthog is not None
        await link_customers(gateway.services.sessions, posthog, full=True)
        analytics = simulators.posthog.analytics
        person = analytics.persons[0]
        customer = to_base64("Customer", person.customer.index + 1)
        destination = WebhookDestination(
            f"{gateway.base_url}/webhooks/posthog",
            {SECRET_HEADER: POSTHOG_WEBHOOK_SECRET},
            backoff=0,
        )
        async with subscribe(gateway.ws_url, customer) as live:
            await live.until_live(partial(add_tag, gateway.base_url, customer))
            event = analytics.capture(
                person.distinct_ids[0],
                "$pageview",
                {"$current_url": "https://shop.example/sale", "$pathname": "/sale"},
                utcnow(),
            )
            simulators.reset_counts()
            started = time.perf_counter()
            statuses = await destination.deliver(analytics, [event])
            pushed = await live.next_event()
            latency = time.perf_counter() - started
            print(f"destination to subscriber: {latency * 1000:.1f} ms")
        assert statuses == [200]
        assert (pushed["__typename"], pushed["id"], pushed["summary"]) == (
            "PageViewed",
            f"posthog:{event['uuid']}",
            "Viewed /sale",
        )
        assert simulators.posthog.requests.total == 0  # read from the mirror


async def test_a_subscription_to_an_unknown_customer_gets_an_error_then_complete(
    tmp_path: Path,
):
    async with live_gateways(tmp_path) as ([gateway], _):
        async with subscribe(gateway.ws_url, to_base64("Customer", 999_999)) as live:
            first = await live.receive()
            second = await live.receive() if first["type"] == "next" else first
        errors = (
            first["payload"]["errors"] if first["type"] == "next" else first["payload"]
        )
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
        assert second["type"] in ("complete", "error")


async def test_a_subscriber_on_one_replica_receives_what_another_accepted(
    tmp_path: Path, redis_url: str, cache_prefix: str
):
    async with live_gateways(
        tmp_path, replicas=2, redis_url=redis_url, cache_prefix=cache_prefix
    ) as ([first, second], _):
        customer = to_base64("Customer", 5)
        async with subscribe(second.ws_url, customer) as live:
            await live.until_live(partial(add_tag, second.base_url, customer))
            started = time.perf_counter()
            await add_tag(first.base_url, customer, "accepted-by-a")
            accepted = time.perf_counter() - started
            event = await live.event_where("Tag accepted-by-a added")
            latency = time.perf_counter() - started
            print(f"mutation on A answered after {accepted * 1000:.1f} ms")
            print(f"replica A to subscriber on B: {latency * 1000:.1f} ms")
        assert event["kind"] == "TAG_ADDED"


async def test_a_subscription_held_through_a_redis_outage_loses_no_event(
    tmp_path: Path, redis_server: RedisServer
):
    """Killed, then restarted on its port: a change replica A accepts while
    Redis is down reaches the subscriber on B once Redis is back, and so does
    one accepted right after it came back."""
    wanted = {"Tag while-down added", "Tag once-back added"}
    async with live_gateways(tmp_path, replicas=2, redis_url=redis_server.url) as (
        [first, second],
        _,
    ):
        customer = to_base64("Customer", 6)
        async with subscribe(second.ws_url, customer) as live:
            await live.until_live(partial(add_tag, second.base_url, customer))
            redis_server.kill()
            await add_tag(first.base_url, customer, "while-down")
            redis_server.start()
            await add_tag(first.base_url, customer, "once-back")
            summaries = await live.summaries_until(wanted, timeout=20)
    assert wanted <= summaries


async def test_the_embed_socket_serves_only_the_tokens_customer(tmp_path: Path):
    async with live_gateways(tmp_path) as ([gateway], _):
        customer, other = to_base64("Customer", 2), to_base64("Customer", 3)
        async with httpx.AsyncClient(
            base_url=gateway.base_url, headers=AUTH, timeout=ANSWER_WAIT
        ) as http:
            created = await http.post(
                "/graphql",
                json={
                    "query": "mutation($c: ID!) { createEmbedToken(customerId: $c, "
                    "ttlSeconds: 60, sources: [CRM]) { token } }",
                    "variables": {"c": customer},
                },
            )
        token = created.json()["data"]["createEmbedToken"]["token"]
        url = gateway.base_url.replace("http", "ws") + f"/embed/graphql?token={token}"
        async with subscribe(url, other, init={}) as refused:
            message = await refused.receive()
        assert "FORBIDDEN" in str(message)
        async with subscribe(url, customer, init={}) as live:
            await live.until_live(partial(add_tag, gateway.base_url, customer))


async def test_a_push_after_another_replicas_webhook_shares_no_fetch_begun_before_it(
    tmp_path: Path, redis_url: str, cache_prefix: str
):
    """A subscriber on replica B; a view on B is fetching the customer's
    orders (Shopify answers in 1 s) when an order is placed and its webhook
    answered by replica A. B's re-read for the push must not share the
    view's fetch, begun before the change: it would push nothing, then or
    ever."""
    async with live_gateways(
        tmp_path, replicas=2, redis_url=redis_url, cache_prefix=cache_prefix
    ) as ([first, second], simulators):
        index = 3
        customer = to_base64("Customer", index + 1)
        shopify = simulators.shopify
        async with (
            httpx.AsyncClient(
                base_url=second.base_url, headers=AUTH, timeout=ANSWER_WAIT
            ) as http,
            subscribe(second.ws_url, customer) as live,
        ):
            # the view links the customer; a profile's change evicts what it
            # read (a tag's keeps it: it changes nothing upstream)
            assert (await http.post("/graphql", json=orders_view(customer))).is_success
            await live.until_live(partial(add_tag, second.base_url, customer))
            changed = CustomerChange(index + 1, "crm", "profile_updated")
            await first.services.changes.publish(changed)
            asked = shopify.requests["graphql"]
            shopify.latency = 1.0
            view = asyncio.create_task(
                http.post("/graphql", json=orders_view(customer))
            )
            await called(shopify, asked)  # B's fetch has left
            order = shopify.add_order(index, [(CATALOG[0], 2)])
            response = await shopify.send_webhook(
                f"{first.base_url}/webhooks/shopify",
                "orders/create",
                shopify.order_payload(order),
            )
            assert response.status_code == 200, response.text
            assert not view.done()  # B's fetch of the old orders is still under way
            event = await live.next_event()
            await view
        assert event["__typename"] == "OrderPlaced"
        assert order["name"] in event["summary"]


def orders_view(customer: str) -> dict[str, Any]:
    """The customer's Shopify timeline, read as the subscription reads it."""
    return {
        "query": "query($id: ID!) { customer(id: $id) { timeline(first: 20, "
        "sources: [SHOPIFY]) { edges { node { summary } } } } }",
        "variables": {"id": customer},
    }

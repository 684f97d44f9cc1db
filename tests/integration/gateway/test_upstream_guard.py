"""What a customer view answers, through the HTTP API, while an upstream
misbehaves: the last good value with ``extensions.stale`` when there is one,
else null with the source's code and the rest answering; unreadable answers
(malformed, cut off, not JSON, a shape the mapping does not know) are
``UPSTREAM_BAD_RESPONSE`` and never cached; a failing upstream's breaker
opens (no more calls) and closes on an answered probe; a hung upstream or a
storm of 429s costs no answer more than the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from connectors.demo_world import World
from connectors.shopify.simulator.data import customer_number
from connectors.simulator_server import Fault
from gateway.demo.simulation import Simulators
from gateway.runtime.services import Services
from tests.integration.gateway.conftest import Gateway, open_gateway
from tests.integration.gateway.test_upstream_fields import shopper

pytestmark = pytest.mark.storage_independent

VIEW = """
query($email: String!) {
  customer(email: $email) {
    email
    orders(first: 3) { edges { node { id name } } }
    tickets(first: 5) { edges { node { id subject } } }
    activity(first: 5) { edges { node { name occurredAt } } }
  }
}
"""
FIELD = {"shopify": "orders", "zendesk": "tickets", "posthog": "activity"}


GatewayOf = Callable[..., Any]


@pytest.fixture
def gateway_of(
    seeded: Services, simulators: Simulators, world: World, cache_prefix: str
) -> GatewayOf:
    """Gateways over the seeded world with settings of the test's own, each
    with an empty in-process cache and no response cache."""

    @asynccontextmanager
    async def opened(**settings: Any) -> AsyncIterator[Gateway]:
        configured = seeded.settings.model_copy(
            update={"cache_prefix": cache_prefix, "response_cache_ttl": 0, **settings}
        )
        async with open_gateway(configured, simulators, world) as gateway:
            try:
                yield gateway
            finally:
                simulators.heal()

    return opened


async def view(gateway: Gateway, email: str) -> tuple[dict[str, Any], float]:
    """The answer, and the seconds it took."""
    started = time.monotonic()
    response = await gateway.http.post(
        "/graphql", json={"query": VIEW, "variables": {"email": email}}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, time.monotonic() - started


def codes(body: dict[str, Any]) -> dict[str, str]:
    """``{source: code}`` of the answer's errors."""
    return {
        e["extensions"]["source"]: e["extensions"]["code"]
        for e in body.get("errors", [])
    }


async def test_a_failing_upstream_answers_its_last_good_value_marked_stale(
    gateway_of: GatewayOf,
) -> None:
    async with gateway_of(cache_ttl_shopify=0.0, read_deadline_seconds=5.0) as gw:
        email = shopper(gw)
        fresh, _ = await view(gw, email)
        assert "errors" not in fresh, fresh
        assert "extensions" not in fresh
        fetched = datetime.now(UTC)
        gw.simulators.shopify.fail_next(100, status=503)
        stale, _ = await view(gw, email)
    assert "errors" not in stale, stale
    assert stale["data"] == fresh["data"]
    [entry] = stale["extensions"]["stale"]
    assert entry["source"] == "shopify"
    assert entry["path"] == ["customer", "orders"]  # the field that read it
    fetched_at = datetime.fromisoformat(entry["fetchedAt"])
    assert abs(fetched_at - fetched) < timedelta(seconds=30)


TWO = """
query($one: String!, $two: String!) {
  a: customer(email: $one) { orders(first: 3) { edges { node { id } } } }
  b: customer(email: $two) { orders(first: 3) { edges { node { id } } } }
}
"""


async def test_a_stale_read_names_the_path_of_the_first_field_it_answered(
    gateway_of: GatewayOf,
) -> None:
    async with gateway_of(cache_ttl_shopify=0.0, read_deadline_seconds=5.0) as gw:
        one, two = [
            p.email
            for p in gw.world.customers
            if p.profile.orders_per_year >= 5 and p.index % 50 != 7
        ][:2]
        variables = {"one": one, "two": two}
        fresh = (await gw.gql(TWO, variables))["data"]
        assert fresh["a"]["orders"]["edges"], fresh
        gw.simulators.shopify.fail_next(100, status=503)
        response = await gw.http.post(
            "/graphql", json={"query": TWO, "variables": variables}
        )
    stale = response.json()
    assert "errors" not in stale, stale
    assert stale["data"] == fresh
    [entry] = stale["extensions"]["stale"]
    # one batched read answered both: it is named by the first field, aliased
    assert (entry["source"], entry["path"]) == ("shopify", ["a", "orders"])


ORDERS = """
query($email: String!, $first: Int!, $after: String) {
  customer(email: $email) {
    orders(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { node { id lineItems { title } } }
    }
  }
}
"""

HISTORY = """query($email: String!) { customer(email: $email) {
  timeline(first: 50, kinds: [ORDER_PLACED]) { edges { node { kind } } } } }"""


async def test_a_bigger_page_while_shopify_fails_shows_the_smaller_last_good_window(
    gateway_of: GatewayOf,
) -> None:
    """A view of 3 orders left the window of the newest 5; then Shopify fails.
    A page of 20 shows those 5, marked stale, and says more follow; the page
    after them, and the order history, cannot be answered, and say why."""
    async with gateway_of(cache_ttl_shopify=0.0, read_deadline_seconds=5.0) as gw:
        store = gw.simulators.shopify.store
        email = next(
            p.email
            for p in gw.world.customers
            if p.index % 50 != 7
            and len(store.orders_by_customer[customer_number(p.index)]) >= 8
        )

        async def page(first: int, after: str | None = None) -> dict[str, Any]:
            variables = {"email": email, "first": first, "after": after}
            body: dict[str, Any] = await gw.gql(ORDERS, variables)
            return body

        five = await page(5)
        assert "errors" not in five, five
        small = await page(3)  # the same window of 5, fetched again
        gw.simulators.shopify.fail_next(100, status=503)
        bigger = await page(20)
        cursor = bigger["data"]["customer"]["orders"]["pageInfo"]["endCursor"]
        past = await page(20, cursor)
        history = await gw.gql(HISTORY, {"email": email})
    assert "errors" not in small, small
    assert "errors" not in bigger, bigger
    orders = bigger["data"]["customer"]["orders"]
    assert orders == five["data"]["customer"]["orders"]
    assert len(orders["edges"]) == 5
    assert orders["pageInfo"]["hasNextPage"] is True
    assert [e["source"] for e in bigger["extensions"]["stale"]] == ["shopify"]
    assert past["data"]["customer"]["orders"] is None
    assert codes(past) == {"shopify": "UPSTREAM_UNAVAILABLE"}
    # the timeline (and the returns) read the order history, the newest 50:
    # 5 orders are not it, and only the stale note would say what is missing
    assert history["data"]["customer"]["timeline"]["edges"] == []
    assert codes(history) == {"shopify": "UPSTREAM_UNAVAILABLE"}  # Shopify's own
    assert "extensions" not in history  # nothing stale was shown


async def test_without_a_last_good_value_the_source_is_null_with_its_code(
    gateway_of: GatewayOf,
) -> None:
    async with gateway_of(read_deadline_seconds=5.0) as gw:
        email = shopper(gw)
        await view(gw, email)  # linked (the links are stored, not cached)
    async with gateway_of(read_deadline_seconds=5.0) as gw:
        gw.simulators.shopify.fail_next(100, status=503)
        body, _ = await view(gw, email)
    assert body["data"]["customer"]["orders"] is None
    assert body["data"]["customer"]["tickets"] is not None
    assert codes(body) == {"shopify": "UPSTREAM_UNAVAILABLE"}
    assert "extensions" not in body


@pytest.mark.parametrize(
    "fault",
    [
        Fault.MALFORMED_JSON,
        Fault.TRUNCATED_BODY,
        Fault.HTML_PAGE,
        Fault.WRONG_CONTENT_TYPE,
        Fault.ERROR_BODY,
        Fault.SHAPE_CHANGED,
    ],
)
@pytest.mark.parametrize("source", ["shopify", "zendesk", "posthog"])
async def test_an_unreadable_answer_nulls_its_source_only_and_is_not_cached(
    gateway_of: GatewayOf, fault: Fault, source: str
) -> None:
    async with gateway_of() as gw:
        email = shopper(gw)
        await view(gw, email)  # linked: the next gateway asks one call per source
    async with gateway_of() as gw:
        simulator = getattr(gw.simulators, source)
        gw.simulators.reset_counts()
        simulator.inject(fault)
        body, _ = await view(gw, email)
        asked = gw.simulators.total_requests()
        again, _ = await view(gw, email)
        asked_again = gw.simulators.total_requests()
    customer = body["data"]["customer"]
    assert customer[FIELD[source]] is None
    assert codes(body) == {source: "UPSTREAM_BAD_RESPONSE"}
    assert customer["email"] == email
    assert all(customer[f] is not None for s, f in FIELD.items() if s != source)
    assert asked == {"shopify": 1, "zendesk": 1, "posthog": 1}
    # nothing was cached: the source is asked again, the others are not
    assert asked_again == {s: 1 + (s == source) for s in FIELD}
    assert "errors" not in again
    assert again["data"]["customer"][FIELD[source]] is not None


def breaker_gauge(source: str) -> float | None:
    return REGISTRY.get_sample_value(
        "customer_graph_upstream_breaker_state", {"connector": source}
    )


async def test_a_failing_upstream_opens_its_breaker_then_one_probe_closes_it(
    gateway_of: GatewayOf,
) -> None:
    async with gateway_of(
        breaker_failures=2,
        breaker_open_seconds=1.5,
        read_deadline_seconds=5.0,
        cache_ttl_shopify=0.0,  # every view asks Shopify
        cache_max_stale_shopify=0.0,
    ) as gw:
        email = shopper(gw)
        await view(gw, email)
        gw.simulators.shopify.fail_next(100, status=503)
        gw.simulators.reset_counts()
        opened, _ = await view(gw, email)
        sent_before_opening = gw.simulators.shopify.requests.total
        refused, _ = await view(gw, email)
        ready = (await gw.http.get("/readyz")).json()
        gauge_open = breaker_gauge("shopify")
        assert gw.simulators.shopify.requests.total == sent_before_opening
        gw.simulators.heal()
        await asyncio.sleep(1.6)
        probed, _ = await view(gw, email)
        closed = (await gw.http.get("/readyz")).json()
    assert sent_before_opening == 2  # two failures opened it mid-retries
    assert codes(opened)["shopify"] == "UPSTREAM_UNAVAILABLE"
    assert codes(refused)["shopify"] == "UPSTREAM_UNAVAILABLE"
    assert ready["upstreams"]["shopify"]["breaker"] == "open"
    assert ready["upstreams"]["zendesk"]["breaker"] == "closed"
    assert gauge_open == 2
    assert "errors" not in probed, probed
    assert closed["upstreams"]["shopify"]["breaker"] == "closed"
    assert breaker_gauge("shopify") == 0


DEADLINE = 3.0
"""The read deadline of these tests: several views at once, the other
sources' links looked up within half of it. At 2 s a machine busy with the
suite's other worker and a demo timed Zendesk and PostHog out too."""
AT_ONCE = 4
"""Views sent at once while Shopify hangs or the upstreams answer 429s. The
test, the gateway and the three simulators share one event loop, so the other
sources' reads after the hung look-up need the loop's CPU for every view
within the half deadline left: a CI run of eight at once, the machine starved
by the suite's other workers, timed PostHog out. Under six busy processes
here, the first look-up left 1.4 s after the views, and eight views timed
PostHog out in two runs of four; four views did in none of six."""
LATE = 9.0
"""What "every answer within the deadline" is held to: the deadline plus what
a starved event loop adds (a CI run measured 7.5 s while other tests started
gateway processes beside it), still under the 10 s of one call's own timeout
(``connectors/upstream_http.py``) and far under the 120 s a hang lasts — so
only the deadline can have answered this early."""


async def views_at_once(gw: Gateway, emails: list[str]) -> list[tuple[dict, float]]:
    return list(await asyncio.gather(*(view(gw, e) for e in emails)))


def shoppers(gw: Gateway, count: int) -> list[str]:
    """Customers known to PostHog and Zendesk alike."""
    persons = gw.simulators.posthog.analytics.by_distinct_id
    users = {u["email"] for u in gw.simulators.zendesk.desk.users.values()}
    found = [
        c.email for c in gw.world.customers if c.email in persons and c.email in users
    ]
    return found[:count]


async def test_a_hung_upstream_costs_no_answer_more_than_the_deadline(
    gateway_of: GatewayOf,
) -> None:
    async with gateway_of(read_deadline_seconds=DEADLINE) as gw:
        emails = shoppers(gw, AT_ONCE)
        gw.simulators.shopify.inject(Fault.HANG, n=1000)
        answers = await views_at_once(gw, emails)
    assert len(answers) == AT_ONCE
    for body, took in answers:
        assert took < LATE
        customer = body["data"]["customer"]
        assert customer["orders"] is None
        assert codes(body) == {"shopify": "UPSTREAM_TIMEOUT"}
        # not linked yet: the hung look-up left the others time to answer
        assert customer["tickets"] is not None
        assert customer["activity"] is not None


async def test_a_storm_of_429s_costs_no_answer_more_than_the_deadline(
    gateway_of: GatewayOf,
) -> None:
    async with gateway_of(read_deadline_seconds=DEADLINE) as gw:
        emails = shoppers(gw, AT_ONCE)
        gw.simulators.shopify.force_rate_limit(1000)
        gw.simulators.zendesk.force_rate_limit(1000, retry_after=30)
        gw.simulators.posthog.force_rate_limit(1000, retry_after=0)
        answers = await views_at_once(gw, emails)
    assert len(answers) == AT_ONCE
    for body, took in answers:
        assert took < LATE
        assert body["data"]["customer"]["email"] is not None
        assert set(codes(body).values()) <= {
            "UPSTREAM_RATE_LIMITED",
            "UPSTREAM_TIMEOUT",
        }

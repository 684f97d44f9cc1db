"""Analytics from the local event mirror: once PostHog's events are mirrored,
``activity``, ``lastSeenAt``, ``sessionsCount``, the timeline's web events and
the engagement facts answer what the live HogQL path answered, and a view
costs PostHog no query. Persons the mirror lacks take the live fallback: one
query per level, counted, within PostHog's budget; refused past it, without
a query; none at all with the fallback off. Both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, event, select

from bench.queries import CUSTOMER_360
from bench.subject import richest_customer
from connectors.demo_world import World
from connectors.posthog.destination import SECRET_HEADER
from connectors.posthog.simulator.destination import WebhookDestination
from gateway.db import models
from gateway.demo.command import mirror_posthog, prepare_insights
from gateway.demo.simulation import POSTHOG_WEBHOOK_SECRET, Simulators
from gateway.insights.engagement import sync_engagement
from gateway.insights.tables import EngagementFact
from gateway.runtime.services import Services
from gateway.sync.backfill import link_customers
from tests.integration.gateway.conftest import Gateway, open_gateway
from tests.integration.gateway.test_cache import assert_matches_the_simulator

pytestmark = pytest.mark.single_redis

VIEW = """
query($n: Int!) { customers(first: $n, orderBy: EMAIL_ASC) { edges { node {
  id email lastSeenAt sessionsCount
  activity(first: 20) { edges { node {
    id kind name occurredAt url path sessionId properties } } }
  timeline(first: 10, sources: [POSTHOG]) { unavailableSources
    edges { node { __typename occurredAt source kind summary } } }
} } } }
"""
LAST_SEEN = """
query($n: Int!) { customers(first: $n, orderBy: EMAIL_ASC) { edges { node {
  email lastSeenAt } } } }
"""
N = 20


async def linked(gateway: Gateway) -> None:
    """Every customer linked to its PostHog person (``sync posthog``)."""
    posthog = gateway.services.upstreams.posthog
    assert posthog is not None
    await link_customers(gateway.services.sessions, posthog, full=True)


async def mirrored(services: Services) -> None:
    """The simulated PostHog's whole history in the mirror (one query)."""
    assert services.upstreams.posthog is not None
    await mirror_posthog(services)


def fallback_queries(read: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "customer_graph_posthog_fallback_queries_total",
        {"read": read, "outcome": outcome},
    )
    return value or 0.0


def nodes(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in result, result
    return [e["node"] for e in result["data"]["customers"]["edges"]]


@pytest.fixture
async def uncached(
    seeded: Services, simulators: Simulators, world: World
) -> AsyncIterator[Gateway]:
    """A gateway without caches, so every read is the mirror's or PostHog's."""
    settings = seeded.settings.model_copy(update={"cache_enabled": False})
    async with open_gateway(settings, simulators, world) as gateway:
        await linked(gateway)
        simulators.reset_counts()
        yield gateway
        simulators.heal()


async def test_the_mirror_answers_what_the_live_path_answers_without_a_query(
    uncached: Gateway,
) -> None:
    live = nodes(await uncached.gql(VIEW, {"n": N}))
    posthog = uncached.simulators.posthog
    assert posthog.requests["query"] == 1  # one level: the live fallback
    assert any(node["activity"]["edges"] for node in live)
    await mirrored(uncached.services)
    uncached.simulators.reset_counts()
    mirror = nodes(await uncached.gql(VIEW, {"n": N}))
    assert posthog.requests.total == 0
    assert mirror == live
    assert_matches_the_simulator(posthog, mirror, 20)


async def test_a_360_view_of_a_mirrored_customer_sends_posthog_nothing(
    cached: Gateway,
) -> None:
    await linked(cached)
    await mirrored(cached.services)
    cached.simulators.reset_counts()
    subject = richest_customer(cached.world, cached.simulators)
    sent = fallback_queries("activity", "sent") + fallback_queries("summary", "sent")
    for _ in range(2):  # cold, then from the response cache
        result = await cached.gql(CUSTOMER_360.document, {"id": subject.global_id})
        assert "errors" not in result, result
        assert result["data"]["customer"]["activity"]["edges"]
    assert cached.simulators.posthog.requests.total == 0
    after = fallback_queries("activity", "sent") + fallback_queries("summary", "sent")
    assert after == sent


async def test_quiet_persons_cost_one_query_once_then_the_mirror_answers(
    cached: Gateway,
) -> None:
    """A page holding persons PostHog never saw: the fallback asks about them
    once, and remembers them as quiet."""
    await linked(cached)
    await mirrored(cached.services)
    cached.simulators.reset_counts()
    first = nodes(await cached.gql(VIEW, {"n": N}))
    quiet = [n for n in first if n["lastSeenAt"] is None]
    assert quiet, "the world has customers PostHog never saw"
    posthog = cached.simulators.posthog
    assert posthog.requests.total == posthog.queries["events"] == 1
    async with cached.services.sessions() as session:
        checks = set(
            await session.scalars(select(models.PostHogPersonCheck.distinct_id))
        )
    assert {n["email"] for n in quiet} <= checks
    await forget_cached(cached)
    cached.simulators.reset_counts()
    assert nodes(await cached.gql(VIEW, {"n": N})) == first
    assert posthog.requests.total == 0


async def forget_cached(gateway: Gateway) -> None:
    """Drop the cached responses and PostHog answers: the next view reads again."""
    await gateway.services.forget_responses()
    caches = gateway.services.caches
    assert caches is not None
    async with gateway.services.sessions() as session:
        ids = list(
            await session.scalars(
                select(models.Identity.external_id).where(
                    models.Identity.source == "posthog"
                )
            )
        )
    for namespace in caches.by_external_id("posthog"):
        await namespace.forget(ids)


async def forget_mirror(services: Services, emails: list[str]) -> None:
    async with services.sessions() as session, session.begin():
        await session.execute(
            delete(models.PostHogEvent).where(
                models.PostHogEvent.distinct_id.in_(emails)
            )
        )


async def test_persons_the_mirror_lacks_cost_one_counted_query_per_level(
    uncached: Gateway,
) -> None:
    await mirrored(uncached.services)
    emails = [n["email"] for n in nodes(await uncached.gql(LAST_SEEN, {"n": N}))]
    known = [
        e for e in emails if e in uncached.simulators.posthog.analytics.by_distinct_id
    ]
    await forget_mirror(uncached.services, known[:3])
    uncached.simulators.reset_counts()
    before = fallback_queries("activity", "sent")
    answer = nodes(await uncached.gql(VIEW, {"n": N}))
    posthog = uncached.simulators.posthog
    assert posthog.requests.total == posthog.queries["events"] == 1
    assert fallback_queries("activity", "sent") == before + 1
    assert_matches_the_simulator(posthog, answer, 20)


@pytest.mark.parametrize("query", [VIEW, LAST_SEEN], ids=["activity", "last-seen"])
async def test_the_mirror_reads_only_the_persons_the_links_read_found_it_holds(
    uncached: Gateway, query: str
) -> None:
    """The customers' links are read with whether the mirror answers for
    each person (``reads.answers_for``): those it does not are sent to the
    live fallback unread there, the others read there only."""
    await mirrored(uncached.services)
    emails = [n["email"] for n in nodes(await uncached.gql(LAST_SEEN, {"n": N}))]
    seen = uncached.simulators.posthog.analytics.by_distinct_id
    known = [e for e in emails if e in seen]
    await forget_mirror(uncached.services, known[:3])
    async with uncached.services.sessions() as session, session.begin():
        await session.execute(delete(models.PostHogPersonCheck))
        held = set(await session.scalars(select(models.PostHogEvent.distinct_id)))
    assert set(known[:3]).isdisjoint(held)
    assert set(known[3:]) & held
    uncached.simulators.reset_counts()
    asked: list[str] = []

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        if "count(DISTINCT posthog_events.session_id)" in statement:  # summaries
            asked.extend(p for p in _flat(parameters) if isinstance(p, str))

    engine = uncached.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        answer = nodes(await uncached.gql(query, {"n": N}))
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert set(asked) & set(emails) == held & set(emails)
    posthog = uncached.simulators.posthog
    assert posthog.requests.total == 1  # the three forgotten, and the quiet
    if query is VIEW:
        assert_matches_the_simulator(posthog, answer, 20)


def _flat(parameters: Any) -> list[Any]:
    """A statement's parameters, an array's items among them (PostgreSQL
    reads the mirror's persons as one)."""
    values = parameters.values() if isinstance(parameters, dict) else parameters
    return [
        item
        for value in values
        for item in (value if isinstance(value, list | tuple) else [value])
    ]


async def test_a_page_of_last_seen_reads_only_the_summaries_of_the_unmirrored(
    uncached: Gateway,
) -> None:
    await mirrored(uncached.services)
    emails = [n["email"] for n in nodes(await uncached.gql(LAST_SEEN, {"n": N}))]
    await forget_mirror(uncached.services, emails[:5])
    uncached.simulators.reset_counts()
    before = fallback_queries("summary", "sent")
    await uncached.gql(LAST_SEEN, {"n": N})
    posthog = uncached.simulators.posthog
    assert posthog.requests.total == 1
    assert len(posthog.last_results) <= 2 * 5  # two summary rows a person, no events
    assert fallback_queries("summary", "sent") == before + 1


@pytest.fixture
async def budgeted(
    seeded: Services, simulators: Simulators, world: World
) -> AsyncIterator[Gateway]:
    """PostHog's budget one query at once (4 an hour, a quarter at once), all
    of it the fallback's; the customers linked beforehand, outside it."""
    async with open_gateway(seeded.settings, simulators, world) as generous:
        await linked(generous)
    settings = seeded.settings.model_copy(
        update={
            "cache_enabled": False,
            "posthog_limit_queries_per_hour": 4,
            "upstream_budget_share": 1.0,
            "upstream_fallback_reserve": 0.0,
        }
    )
    async with open_gateway(settings, simulators, world) as gateway:
        simulators.reset_counts()
        yield gateway
        simulators.heal()


async def test_past_posthogs_budget_no_fallback_query_is_sent_and_the_field_is_rate_limited(
    budgeted: Gateway,
) -> None:
    assert "errors" not in await budgeted.gql(LAST_SEEN, {"n": 5})
    posthog = budgeted.simulators.posthog
    assert posthog.requests.total == 1
    refused = fallback_queries("summary", "refused")
    answer = await budgeted.gql(LAST_SEEN, {"n": 5})
    assert posthog.requests.total == 1
    assert fallback_queries("summary", "refused") == refused + 1
    codes = {
        (e["extensions"]["code"], e["extensions"]["source"]) for e in answer["errors"]
    }
    assert codes == {("UPSTREAM_RATE_LIMITED", "posthog")}
    assert all(edge["node"]["email"] for edge in answer["data"]["customers"]["edges"])


async def test_with_the_fallback_off_unmirrored_persons_have_no_activity_and_cost_nothing(
    seeded: Services, simulators: Simulators, world: World
) -> None:
    settings = seeded.settings.model_copy(
        update={"cache_enabled": False, "posthog_live_fallback": False}
    )
    async with open_gateway(settings, simulators, world) as gateway:
        await linked(gateway)
        simulators.reset_counts()
        answer = nodes(await gateway.gql(VIEW, {"n": 5}))
    assert simulators.posthog.requests.total == 0
    for node in answer:
        assert (node["lastSeenAt"], node["sessionsCount"]) == (None, 0)
        assert node["activity"]["edges"] == []


async def test_a_delivered_event_is_in_the_next_view_without_a_query(
    cached: Gateway,
) -> None:
    await linked(cached)
    await mirrored(cached.services)
    first = nodes(await cached.gql(VIEW, {"n": 3}))
    subject = next(n for n in first if n["activity"]["edges"])
    analytics = cached.simulators.posthog.analytics
    newest = datetime.fromisoformat(
        subject["activity"]["edges"][0]["node"]["occurredAt"]
    )
    event = {
        "uuid": str(uuid.uuid4()),
        "event": "Coupon Applied",
        "distinct_id": subject["email"],
        "timestamp": newest + timedelta(seconds=1),
        "properties": {"$current_url": "https://shop.example/cart", "code": "SPRING"},
    }
    body = WebhookDestination("http://gw/webhooks/posthog", {}).body(analytics, event)
    cached.simulators.reset_counts()
    response = await cached.http.post(
        "/webhooks/posthog", json=body, headers={SECRET_HEADER: POSTHOG_WEBHOOK_SECRET}
    )
    assert response.json() == {"status": "processed"}
    after = nodes(await cached.gql(VIEW, {"n": 3}))
    mine = next(n for n in after if n["email"] == subject["email"])
    top = mine["activity"]["edges"][0]["node"]
    assert (top["id"], top["name"], top["properties"]) == (
        event["uuid"],
        "Coupon Applied",
        {"code": "SPRING"},
    )
    assert mine["timeline"]["edges"][0]["node"]["occurredAt"] == top["occurredAt"]
    assert datetime.fromisoformat(mine["lastSeenAt"]) == event["timestamp"]
    assert cached.simulators.posthog.requests.total == 0


async def test_engagement_facts_read_last_seen_from_the_mirror(
    gateway: Gateway,
) -> None:
    await linked(gateway)
    await mirrored(gateway.services)
    services = gateway.services
    posthog = gateway.simulators.posthog
    for queries in (1, 0):  # the quiet persons' one look-up, then none
        gateway.simulators.reset_counts()
        done = await sync_engagement(
            services.sessions,
            services.upstreams,
            datetime.now(UTC),
            live_fallback=services.settings.posthog_live_fallback,
        )
        assert done > 0
        assert posthog.requests.total == queries
    analytics = gateway.simulators.posthog.analytics
    async with services.sessions() as session:
        facts = list(
            await session.execute(
                select(models.Identity.external_id, EngagementFact.last_seen_at)
                .join(
                    EngagementFact,
                    EngagementFact.customer_id == models.Identity.customer_id,
                )
                .where(models.Identity.source == "posthog")
            )
        )
    assert facts
    for distinct_id, last_seen in facts:
        mine = [
            e["timestamp"]
            for e in analytics.events_of(analytics.by_distinct_id[distinct_id])
            if e["distinct_id"] == distinct_id
        ]
        assert last_seen == (max(mine) if mine else None)


async def test_the_demo_prepares_a_mirror_its_views_need_no_live_query(
    gateway: Gateway,
) -> None:
    await prepare_insights(gateway.services)
    gateway.simulators.reset_counts()
    answer = nodes(await gateway.gql(VIEW, {"n": N}))
    assert any(node["activity"]["edges"] for node in answer)
    assert gateway.simulators.posthog.requests.total == 0

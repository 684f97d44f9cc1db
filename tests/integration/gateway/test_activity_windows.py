"""Activity is read as windows of a person's newest events, as many as the
page shows and one more: PostHog's rows per query, cache hits for smaller
pages, a deep page read at once from its cursor's position, and a walk
through every page — with events sharing a millisecond at a window's edge —
giving what one page of the most gives, live and from the mirror."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.subject import Subject, richest_customer
from connectors.posthog.simulator.server import PostHogSimulator
from gateway.changes.bus import CustomerChange
from gateway.loaders.analytics import ACTIVITY_LIMIT
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_event_mirror import linked, mirrored

pytestmark = pytest.mark.storage_independent

PAGE = """
query($id: ID!, $n: Int!, $after: String, $kinds: [ActivityKind!]) {
  customer(id: $id) { activity(first: $n, after: $after, kinds: $kinds) {
    pageInfo { hasNextPage endCursor } edges { node { id occurredAt } } } } }
"""


async def page(
    gateway: Gateway, subject: Subject, n: int, after: str | None = None, **kw: Any
) -> dict[str, Any]:
    result = await gateway.gql(
        PAGE, {"id": subject.global_id, "n": n, "after": after, **kw}
    )
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["customer"]["activity"]
    return found


def ids(found: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in found["edges"]]


def events_read(posthog: PostHogSimulator) -> int:
    """Event rows of the last HogQL query PostHog answered."""
    return sum(row[0] == "event" for row in posthog.last_results)


def recorded(gateway: Gateway, subject: Subject) -> list[dict[str, Any]]:
    """The subject's events within 90 days as PostHog holds them, newest first."""
    analytics = gateway.simulators.posthog.analytics
    email = gateway.world.customers[subject.customer_id - 1].email
    since = datetime.now(UTC) - timedelta(days=90)
    return [
        e
        for e in analytics.events_of(analytics.by_distinct_id[email])
        if e["distinct_id"] == email and e["timestamp"] >= since
    ]


async def evict(gateway: Gateway, subject: Subject) -> None:
    """Forget every cached answer about the subject."""
    change = CustomerChange(customer_id=subject.customer_id, source="crm", kind="x")
    await gateway.services.changes.publish(change)
    gateway.simulators.reset_counts()


@pytest.fixture
def subject(gateway: Gateway) -> Subject:
    found = richest_customer(gateway.world, gateway.simulators)
    assert found.events >= 80
    return found


@pytest.fixture
def tied(gateway: Gateway, subject: Subject) -> Iterator[list[str]]:
    """Three more events in the moment of the subject's 10th newest, so four
    share it across the edge of the window of 10 (read 11 deep). Their ids
    sort first, but PostHog (here, as ClickHouse may) returns the 10th first:
    the window's read holds it and one of them. Taken out of the simulator
    again after the test."""
    analytics = gateway.simulators.posthog.analytics
    tenth = recorded(gateway, subject)[9]
    person = analytics.by_distinct_id[tenth["distinct_id"]]
    rows = []
    for n in range(3):
        row = analytics.capture(
            tenth["distinct_id"],
            "$pageview",
            {"$current_url": "https://x.test/"},
            tenth["timestamp"],
        )
        row["uuid"] = f"ffffffff-ffff-4fff-bfff-fffffffff{n:03d}"
        rows.append(row)
    yield [tenth["uuid"], *(r["uuid"] for r in rows)]
    events = analytics.events_of(person)
    for row in rows:
        events.remove(row)


async def test_a_page_reads_its_window_and_one_more_and_smaller_pages_are_hits(
    gateway: Gateway, subject: Subject
) -> None:
    posthog = gateway.simulators.posthog
    newest = [e["uuid"] for e in recorded(gateway, subject)]

    five = await page(gateway, subject, 5)
    assert ids(five) == newest[:5]
    assert five["pageInfo"]["hasNextPage"]
    assert (posthog.queries["events"], events_read(posthog)) == (1, 6)

    gateway.simulators.reset_counts()
    assert ids(await page(gateway, subject, 4)) == newest[:4]
    assert posthog.queries["events"] == 0  # the window of 5 answers

    twenty = await page(gateway, subject, 20)
    assert ids(twenty) == newest[:20]
    assert (posthog.queries["events"], events_read(posthog)) == (1, 21)

    gateway.simulators.reset_counts()
    assert ids(await page(gateway, subject, 10)) == newest[:10]
    assert posthog.queries["events"] == 0  # the window of 20 replaced 5's


async def test_a_page_of_some_kinds_reads_the_largest_window(
    gateway: Gateway, subject: Subject
) -> None:
    posthog = gateway.simulators.posthog
    found = await page(gateway, subject, 5, kinds=["PAGE_VIEW"])
    assert len(found["edges"]) == 5
    assert (posthog.queries["events"], events_read(posthog)) == (
        1,
        min(ACTIVITY_LIMIT, len(recorded(gateway, subject))),
    )


async def test_a_deep_page_reads_one_window_from_its_cursors_position(
    gateway: Gateway, subject: Subject
) -> None:
    after = None
    for _ in range(3):
        after = (await page(gateway, subject, 20, after))["pageInfo"]["endCursor"]
    await evict(gateway, subject)

    fourth = await page(gateway, subject, 20, after)

    posthog = gateway.simulators.posthog
    assert ids(fourth) == [e["uuid"] for e in recorded(gateway, subject)[60:80]]
    assert posthog.queries["events"] == 1  # not one per window up to it


@pytest.mark.parametrize("source", ["live", "mirror"])
async def test_every_page_walked_gives_each_event_once_as_one_page_does(
    gateway: Gateway, subject: Subject, tied: list[str], source: str
) -> None:
    if source == "mirror":
        await linked(gateway)
        await mirrored(gateway.services)
    await evict(gateway, subject)

    walked: list[str] = []
    after = None
    while True:
        found = await page(gateway, subject, 5, after)
        walked += ids(found)
        if not found["pageInfo"]["hasNextPage"]:
            break
        after = found["pageInfo"]["endCursor"]
    queries = gateway.simulators.posthog.queries["events"]
    await evict(gateway, subject)
    whole = ids(await page(gateway, subject, ACTIVITY_LIMIT))

    assert walked == whole
    assert set(tied) <= set(walked)
    assert len(walked) == min(ACTIVITY_LIMIT, len(recorded(gateway, subject)))
    # windows of 5, 10, 20, 50 and 100 at most; none from the mirror
    assert queries <= (5 if source == "live" else 0)

"""The event mirror is read in windows of a person's newest events, as many
as the page shows and one more; the live fallback reads the newest 100 in one
query (PostHog's budget counts queries), or with the cache off (nothing keeps
the surplus) as the mirror is read. Events read per page, a deep page
read at once from its cursor's position, one read for a person's windows in
one request, and a walk through every page — with events sharing a
millisecond at a window's edge — giving what one page of the most gives, live
and from the mirror."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.subject import Subject, richest_customer
from connectors.posthog.simulator.server import PostHogSimulator
from gateway.changes.bus import CustomerChange
from gateway.loaders import analytics
from gateway.loaders.analytics import ACTIVITY_LIMIT
from tests.integration.gateway.conftest import Gateway, open_gateway
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


async def in_the_mirror(gateway: Gateway) -> None:
    """Every customer linked and PostHog's events mirrored; counts reset."""
    await linked(gateway)
    await mirrored(gateway.services)
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


@pytest.fixture
def mirror_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(limit asked, events answered) of each read of the mirror's events."""
    reads: list[tuple[int, int]] = []
    read = analytics.reads.activity

    async def counted(session: Any, ids: Sequence[str], **kw: Any) -> Any:
        found = await read(session, ids, **kw)
        reads.append((kw["limit"], sum(len(a.events) for a in found.values())))
        return found

    monkeypatch.setattr(analytics.reads, "activity", counted)
    return reads


async def test_a_page_reads_its_window_of_the_mirror_and_one_more_event(
    gateway: Gateway, subject: Subject, mirror_reads: list[tuple[int, int]]
) -> None:
    await in_the_mirror(gateway)
    newest = [e["uuid"] for e in recorded(gateway, subject)]

    five = await page(gateway, subject, 5)
    twenty = await page(gateway, subject, 20)
    fifty = await page(gateway, subject, 50)

    assert (ids(five), ids(twenty), ids(fifty)) == (
        newest[:5],
        newest[:20],
        newest[:50],
    )
    assert all(p["pageInfo"]["hasNextPage"] for p in (five, twenty, fifty))
    assert mirror_reads == [(6, 6), (21, 21), (51, 51)]
    assert gateway.simulators.posthog.queries["events"] == 0


async def test_a_persons_windows_in_one_request_are_one_read(
    gateway: Gateway, subject: Subject, mirror_reads: list[tuple[int, int]]
) -> None:
    """The timeline's 100 and two pages of one person, loaded together: one
    read, of the largest."""
    await in_the_mirror(gateway)
    result = await gateway.gql(
        """query($id: ID!) { customer(id: $id) {
          a: activity(first: 5) { edges { node { id } } }
          b: activity(first: 50) { edges { node { id } } }
          timeline(first: 5, sources: [POSTHOG]) { edges { node { occurredAt } } }
        } }""",
        {"id": subject.global_id},
    )
    assert "errors" not in result, result
    assert [limit for limit, _ in mirror_reads] == [ACTIVITY_LIMIT]


async def test_the_live_fallback_reads_the_newest_100_in_one_query_for_every_page(
    gateway: Gateway, subject: Subject
) -> None:
    posthog = gateway.simulators.posthog
    newest = [e["uuid"] for e in recorded(gateway, subject)]

    five = await page(gateway, subject, 5)
    assert ids(five) == newest[:5]
    read = min(ACTIVITY_LIMIT, len(newest))
    assert (posthog.queries["events"], events_read(posthog)) == (1, read)

    gateway.simulators.reset_counts()
    after = five["pageInfo"]["endCursor"]
    for n in (20, 50, 20):
        found = await page(gateway, subject, n, after)
        after = found["pageInfo"]["endCursor"]
    assert posthog.queries["events"] == 0  # the cached 100 answers every page


@pytest.fixture
async def uncached(gateway: Gateway) -> AsyncIterator[Gateway]:
    """The gateway's data and simulators, the cache off (``CG_CACHE_ENABLED``)."""
    settings = gateway.services.settings.model_copy(update={"cache_enabled": False})
    async with open_gateway(settings, gateway.simulators, gateway.world) as opened:
        opened.simulators.reset_counts()
        yield opened


async def test_with_the_cache_off_the_live_fallback_reads_what_the_page_shows(
    uncached: Gateway, subject: Subject
) -> None:
    """Nothing keeps events a page does not show, and each request spends its
    query anyway: a page of n reads n + 1 (the last says whether more exist),
    its summary in the same query."""
    posthog = uncached.simulators.posthog
    newest = [e["uuid"] for e in recorded(uncached, subject)]
    for n in (5, 20, 50):
        before = posthog.queries["events"]
        found = await page(uncached, subject, n)
        assert (posthog.queries["events"] - before, events_read(posthog)) == (1, n + 1)
        assert (ids(found), found["pageInfo"]["hasNextPage"]) == (newest[:n], True)

    after = (await page(uncached, subject, 20))["pageInfo"]["endCursor"]
    second = await page(uncached, subject, 20, after)  # the newest 40: a window of 50
    assert (ids(second), events_read(posthog)) == (newest[20:40], 51)

    result = await uncached.gql(
        """query($id: ID!) { customer(id: $id) {
          lastSeenAt sessionsCount activity(first: 5) { edges { node { id } } } } }""",
        {"id": subject.global_id},
    )
    assert "errors" not in result, result
    assert result["data"]["customer"]["sessionsCount"] > 0
    assert result["data"]["customer"]["lastSeenAt"] is not None
    assert events_read(posthog) == 6


async def test_with_the_cache_off_a_window_cut_among_tied_events_is_read_deeper(
    uncached: Gateway, subject: Subject, tied: list[str]
) -> None:
    """The read of 11 for a page of 10 ends among four events of one
    millisecond: the window keeps the 9 before them, so the page is read again
    deeper (a second query) and shows all ten, as one page of the most does."""
    posthog = uncached.simulators.posthog

    ten = await page(uncached, subject, 10)

    whole = ids(await page(uncached, subject, ACTIVITY_LIMIT))
    assert ids(ten) == whole[:10]
    assert posthog.queries["events"] == 3  # 11 deep, the newest 100; the whole


@pytest.mark.parametrize("loaders", [True, False])
async def test_with_the_cache_off_a_request_reads_a_person_at_most_twice(
    gateway: Gateway, subject: Subject, loaders: bool
) -> None:
    """Pages of one person in one request, with loaders (one batch, its
    largest window) and without (a read per field): a page its first read
    covers reads nothing more; one it does not reads the newest 100."""
    settings = gateway.services.settings.model_copy(
        update={"cache_enabled": False, "loaders_enabled": loaders}
    )
    async with open_gateway(settings, gateway.simulators, gateway.world) as opened:
        posthog = opened.simulators.posthog
        opened.simulators.reset_counts()
        result = await opened.gql(
            """query($id: ID!) { customer(id: $id) {
              a: activity(first: 5) { edges { node { id } } }
              b: activity(first: 20) { edges { node { id } } }
              c: activity(first: 3) { edges { node { id } } }
              timeline(first: 60, sources: [POSTHOG]) { edges { node { occurredAt } } }
            } }""",
            {"id": subject.global_id},
        )
    assert "errors" not in result, result
    customer = result["data"]["customer"]
    newest = [e["uuid"] for e in recorded(opened, subject)]
    shown = {k: [e["node"]["id"] for e in customer[k]["edges"]] for k in "abc"}
    assert shown == {"a": newest[:5], "b": newest[:20], "c": newest[:3]}
    assert len(customer["timeline"]["edges"]) == 60
    assert posthog.queries["events"] == (1 if loaders else 2)


async def test_a_page_of_some_kinds_reads_the_largest_window(
    gateway: Gateway, subject: Subject, mirror_reads: list[tuple[int, int]]
) -> None:
    await in_the_mirror(gateway)
    found = await page(gateway, subject, 5, kinds=["PAGE_VIEW"])
    assert len(found["edges"]) == 5
    assert [limit for limit, _ in mirror_reads] == [ACTIVITY_LIMIT]


async def test_a_deep_page_reads_one_window_from_its_cursors_position(
    gateway: Gateway, subject: Subject, mirror_reads: list[tuple[int, int]]
) -> None:
    await in_the_mirror(gateway)
    after = None
    for _ in range(3):
        after = (await page(gateway, subject, 20, after))["pageInfo"]["endCursor"]
    mirror_reads.clear()

    fourth = await page(gateway, subject, 20, after)

    assert ids(fourth) == [e["uuid"] for e in recorded(gateway, subject)[60:80]]
    assert [limit for limit, _ in mirror_reads] == [ACTIVITY_LIMIT]  # one window


@pytest.mark.parametrize("source", ["live", "mirror"])
async def test_every_page_walked_gives_each_event_once_as_one_page_does(
    gateway: Gateway, subject: Subject, tied: list[str], source: str
) -> None:
    if source == "mirror":
        await in_the_mirror(gateway)
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
    assert queries == (1 if source == "live" else 0)

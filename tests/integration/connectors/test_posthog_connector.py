"""PostHogConnector against PostHogSimulator over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.base import ActivityConnector
from connectors.demo_world import World
from connectors.errors import (
    UpstreamAuthError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from connectors.models import ActivityKind
from connectors.posthog.client import REST_LOOKUPS, PostHogConnector
from connectors.posthog.simulator.server import PostHogSimulator
from connectors.retry import RetryPolicy
from connectors.simulator_server import serve_app
from tests.conftest import ANSWER_WAIT

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
WORLD = World(seed=11, size=80)


@pytest.fixture
def sim() -> PostHogSimulator:
    return PostHogSimulator(WORLD, project_id=7, api_key="phx_test")


@pytest.fixture
async def base_url(sim: PostHogSimulator) -> AsyncIterator[str]:
    async with serve_app(sim.app) as url:
        yield url


@pytest.fixture
async def ph(base_url: str) -> AsyncIterator[PostHogConnector]:
    client = PostHogConnector(base_url, 7, "phx_test", retry=FAST)
    yield client
    await client.aclose()


def emails(sim: PostHogSimulator, n: int) -> list[str]:
    return [p.distinct_ids[0] for p in sim.analytics.persons[:n]]


def expected_events(sim, distinct_id: str, limit: int, days: int = 90) -> list[str]:
    person = sim.analytics.by_distinct_id[distinct_id]
    since = datetime.now(UTC) - timedelta(days=days)
    return [
        e["uuid"]
        for e in sim.analytics.events_of(person)
        if e["distinct_id"] == distinct_id and e["timestamp"] >= since
    ][:limit]


async def test_the_connector_is_an_activity_connector(ph):
    assert isinstance(ph, ActivityConnector)


def expected_summary(sim, distinct_id: str, session_days: int = 30):
    mine = [
        e
        for e in sim.analytics.events_of(sim.analytics.by_distinct_id[distinct_id])
        if e["distinct_id"] == distinct_id
    ]
    since = datetime.now(UTC) - timedelta(days=session_days)
    recent = {e["properties"]["$session_id"] for e in mine if e["timestamp"] >= since}
    return (mine[0]["timestamp"] if mine else None), len(recent)


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_activity_of_many_persons_costs_one_query(sim, ph, n):
    ids = emails(sim, n)
    found = await ph.activity_by_persons(ids, limit=5)
    for distinct_id in ids:
        activity = found[distinct_id]
        assert [e.id for e in activity.events] == expected_events(sim, distinct_id, 5)
        summary = activity.summary
        assert (summary.last_seen, summary.sessions) == expected_summary(
            sim, distinct_id
        )
    assert sim.requests["query"] == 1
    assert sim.requests.total == 1


async def test_events_are_mapped_to_activity_kinds(sim, ph):
    ids = emails(sim, 30)
    found = await ph.activity_by_persons(ids, limit=200)
    every = [e for activity in found.values() for e in activity.events]
    kinds = {e.kind for e in every}
    assert {ActivityKind.PAGE_VIEW, ActivityKind.PRODUCT_VIEW} <= kinds
    page_view = next(e for e in every if e.kind is ActivityKind.PAGE_VIEW)
    assert page_view.url is not None
    assert page_view.url.endswith(page_view.path or "?")
    assert page_view.session_id
    product = next(e for e in every if e.kind is ActivityKind.PRODUCT_VIEW)
    assert "product_id" in product.properties
    assert product.occurred_at.tzinfo is UTC


async def test_summaries_alone_are_one_query_and_match_the_activity_query(sim, ph):
    ids = [*emails(sim, 20), "nobody@example.com"]
    summaries = await ph.summaries_by_persons(ids, session_days=30)
    assert sim.requests["query"] == 1
    assert summaries["nobody@example.com"].last_seen is None
    assert summaries["nobody@example.com"].sessions == 0
    for distinct_id in ids[:-1]:
        summary = summaries[distinct_id]
        assert (summary.last_seen, summary.sessions) == expected_summary(
            sim, distinct_id
        )
    found = await ph.activity_by_persons(ids)
    assert {d: a.summary for d, a in found.items()} == summaries


async def test_ids_with_quotes_are_escaped_not_injected(sim, ph):
    found = await ph.activity_by_persons(["o'brien@example.com", "x\\' or 1=1 --"])
    assert [a.events for a in found.values()] == [(), ()]
    assert {a.summary.last_seen for a in found.values()} == {None}


async def test_persons_by_distinct_id_and_email(sim, ph):
    person = sim.analytics.persons[0]
    found = await ph.customers_by_ids([person.distinct_ids[1], "unknown-id"])
    assert found[1] is None
    assert found[0] is not None
    assert found[0].external_id == person.distinct_ids[0]
    assert found[0].properties["person_uuid"] == person.uuid
    sim.requests.reset()
    unknown = [f"no{n}@x.io" for n in range(REST_LOOKUPS)]  # past the persons API
    by_email = await ph.customers_by_emails([person.distinct_ids[0].upper(), *unknown])
    assert list(by_email) == [person.distinct_ids[0]]
    rest, hogql = found[0], by_email[person.distinct_ids[0]]
    assert replace(hogql, properties={}) == replace(rest, properties={})
    assert {k: v for k, v in hogql.properties.items() if k != "last_seen_at"} == {
        k: v for k, v in rest.properties.items() if k != "last_seen_at"
    }
    assert by_email[person.distinct_ids[0]].properties["distinct_ids"] == tuple(
        person.distinct_ids
    )
    assert (sim.requests["query"], sim.requests["persons"]) == (1, 0)


@pytest.mark.parametrize("n", [1, 10, 50])
async def test_many_emails_are_looked_up_in_one_query(sim, ph, n):
    people = sim.analytics.persons[:n]
    unknown = [
        c.email for c in WORLD.customers if c.email not in sim.analytics.by_distinct_id
    ]
    found = await ph.customers_by_emails(
        [p.properties["email"] for p in people] + unknown
    )
    assert set(found) == {p.properties["email"] for p in people}
    for person in people:
        customer = found[person.properties["email"]]
        assert customer.external_id == person.distinct_ids[0]
        assert customer.properties["person_uuid"] == person.uuid
        assert customer.created_at == person.customer.signed_up_at
    assert sim.requests["query"] == 1
    assert sim.requests.total == 1


async def test_a_few_emails_and_phones_are_persons_calls_not_hogql_queries(sim, ph):
    """A view links one customer: the persons API (1,200 calls an hour), not
    a HogQL query (120 an hour)."""
    people = [p for p in sim.analytics.persons if "phone" in p.properties][:2]
    emails = [p.properties["email"] for p in people]
    by_email = await ph.customers_by_emails([*emails, "no@x.io"])
    phones = [p.properties["phone"] for p in people]
    by_phone = await ph.customers_by_phones([*phones, "+15550000000"])
    assert list(by_email) == emails
    assert list(by_phone) == phones
    for person, found in zip(people, by_email.values(), strict=True):
        assert found.external_id == person.distinct_ids[0]
        assert found.properties["person_uuid"] == person.uuid
    assert [c.external_id for c in by_phone.values()] == [
        c.external_id for c in by_email.values()
    ]
    assert (sim.requests["query"], sim.requests["persons"]) == (0, 6)


async def test_persons_by_phone_are_one_query(sim, ph):
    people = [p for p in sim.analytics.persons if "phone" in p.properties][:5]
    phones = [p.properties["phone"] for p in people]
    found = await ph.customers_by_phones([*phones, "+15550000000"])
    assert list(found) == phones
    assert [c.properties["person_uuid"] for c in found.values()] == [
        p.uuid for p in people
    ]
    assert sim.requests.total == 1


async def test_a_429_with_retry_after_is_retried(sim, ph):
    sim.force_rate_limit(1, retry_after=0)
    await ph.activity_by_persons(emails(sim, 2))
    assert sim.requests["query"] == 2


async def test_invalid_key_is_fatal_and_not_retried(sim, base_url):
    ph = PostHogConnector(base_url, 7, "phc_project_token", retry=FAST)
    try:
        with pytest.raises(UpstreamAuthError):
            await ph.activity_by_persons(emails(sim, 1))
    finally:
        await ph.aclose()
    assert sim.requests["query"] == 1


async def test_5xx_is_retried_then_reported_unavailable(sim, ph):
    sim.fail_next(3, status=503)
    with pytest.raises(UpstreamUnavailable):
        await ph.summaries_by_persons(emails(sim, 2))
    assert sim.requests["query"] == FAST.attempts


async def post_query(
    base_url: str, hogql: str, key: str = "phx_test"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=ANSWER_WAIT) as http:
        return await http.post(
            "/api/projects/7/query/",
            json={"query": {"kind": "HogQLQuery", "query": hogql}},
            headers={"Authorization": f"Bearer {key}"},
        )


async def test_query_endpoint_speaks_hogql_query_response(sim, base_url):
    response = await post_query(
        base_url, "select event, timestamp from events order by timestamp desc"
    )
    body = response.json()
    assert response.status_code == 200
    assert body["columns"] == ["event", "timestamp"]
    assert body["types"][1] == ["timestamp", "DateTime64(6, 'UTC')"]
    assert len(body["results"]) == 100
    assert body["hasMore"] is True
    assert body["results"][0][1].endswith("000Z")


async def test_union_all_answers_one_response_with_common_column_types(base_url):
    response = await post_query(
        base_url,
        "(select 'event', timestamp, NULL from events limit 3)"
        " union all (select 'last_seen', max(timestamp), count() from events)",
    )
    body = response.json()
    assert response.status_code == 200
    assert body["types"] == [
        ["'event'", "String"],
        ["timestamp", "DateTime64(6, 'UTC')"],
        ["NULL", "Nullable(UInt64)"],
    ]
    assert [row[0] for row in body["results"]] == ["event"] * 3 + ["last_seen"]
    assert body["results"][-1][2] > 3


async def test_person_distinct_ids_join_the_person(sim, base_url):
    person = sim.analytics.persons[0]
    response = await post_query(
        base_url,
        "select distinct_id, person.properties.email from person_distinct_ids"
        f" where person_id = '{person.uuid}'",
    )
    assert response.status_code == 200
    assert response.json()["results"] == [
        [d, person.properties["email"]] for d in person.distinct_ids
    ]


@pytest.mark.parametrize(
    ("hogql", "code", "detail"),
    [
        (
            "select uuid, event from events union all select uuid from events",
            "hogql_query_error",
            "Different number of columns in UNION ALL elements: 2, 1",
        ),
        (
            "select event from events union all select count() from events",
            "no_common_type",
            "There is no supertype for types String, UInt64",
        ),
        (
            "select uuid from events union select uuid from events",
            "hogql_query_error",
            "The PostHog simulator does not run UNION DISTINCT",
        ),
        (
            "select * from persons join events",
            "hogql_query_error",
            "The PostHog simulator does not run joins, aliases or sampling",
        ),
    ],
)
async def test_a_query_posthog_parses_but_refuses_is_a_400_validation_error(
    base_url, hogql, code, detail
):
    response = await post_query(base_url, hogql)
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": code,
        "detail": detail,
        "attr": None,
    }


async def test_a_hogql_syntax_error_is_answered_as_posthog_answers_it(sim, base_url):
    """posthog/api/query.py turns the parser's ``SyntaxError`` into
    ``ValidationError(str(e), "hogql_syntax_error")``; it counts against the
    hourly budget, which PostHog checks before it reads the query."""
    response = await post_query(base_url, "select from where")
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "hogql_syntax_error",
        "detail": "no viable alternative at input 'select from where'",
        "attr": None,
    }
    assert len(sim.query_budget.history) == 1


async def test_simulator_error_envelopes(sim, base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=ANSWER_WAIT) as http:
        missing = await http.get("/api/projects/7/persons/")
        wrong = await http.get(
            "/api/projects/8/persons/", headers={"Authorization": "Bearer phx_test"}
        )
        sim.force_rate_limit(1, retry_after=3)
        limited = await http.get(
            "/api/projects/7/persons/", headers={"Authorization": "Bearer phx_test"}
        )
    assert missing.status_code == 401
    assert missing.json()["code"] == "not_authenticated"
    assert wrong.status_code == 404
    assert wrong.json() == {
        "type": "invalid_request",
        "code": "not_found",
        "detail": "Not found.",
        "attr": None,
    }
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert limited.json()["type"] == "throttled_error"


async def test_events_list_pages_backwards_with_before(sim, base_url):
    distinct_id = max(
        emails(sim, 40),
        key=lambda d: len(sim.analytics.events_of(sim.analytics.by_distinct_id[d])),
    )
    after = (datetime.now(UTC) - timedelta(days=120)).isoformat()
    seen: list[str] = []
    url: str | None = "/api/environments/7/events/"
    params: dict[str, str] | None = {
        "distinct_id": distinct_id,
        "after": after,
        "limit": "3",
    }
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": "Bearer phx_test"},
        timeout=ANSWER_WAIT,
    ) as http:
        while url:
            body = (await http.get(url, params=params)).json()
            seen += [e["id"] for e in body["results"]]
            assert all(e["timestamp"].endswith("+00:00") for e in body["results"])
            url, params = body["next"], None
    assert seen == expected_events(sim, distinct_id, 10_000, days=120)
    assert sim.requests["events"] > 1


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_the_hourly_query_budget_answers_429_then_the_window_rolls():
    """PostHog's ``HogQLQueryThrottle``: 120 HogQL queries an hour per key, a
    sliding window (posthog/rate_limit.py)."""
    clock = Clock()
    sim = PostHogSimulator(WORLD, project_id=7, api_key="phx_test", clock=clock)
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ph") as http:

        async def query() -> httpx.Response:
            return await http.post(
                "/api/projects/7/query/",
                json={
                    "query": {
                        "kind": "HogQLQuery",
                        "query": "select 'x' from events limit 1",
                    }
                },
                headers={"Authorization": "Bearer phx_test"},
            )

        for minute in range(120):
            clock.now = 1_000.0 + minute * 10
            assert (await query()).status_code == 200
        clock.now = 1_000.0 + 1_200
        refused = await query()
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "2400"
        assert refused.json() == {
            "type": "throttled_error",
            "code": "throttled",
            "detail": "Request was throttled. Expected available in 2400 seconds.",
            "attr": None,
        }
        clock.now = 1_000.0 + 3_599.5
        assert (await query()).status_code == 429
        assert (await query()).headers["Retry-After"] == "1"
        clock.now = 1_000.0 + 3_600
        assert (await query()).status_code == 200
        assert (await query()).status_code == 429
        clock.now = 1_000.0 + 3_610
        assert (await query()).status_code == 200
    assert sim.requests["query"] == 126
    assert sim.queries["events"] == 122


async def test_a_raised_budget_lets_more_queries_through_at_once(sim, ph):
    sim.query_budget.rate = 10_000
    for _ in range(3):
        await ph.summaries_by_persons(emails(sim, 200))
    assert sim.requests["query"] == 3
    sim.query_budget.rate = 2
    with pytest.raises(UpstreamRateLimited):
        await ph.summaries_by_persons(emails(sim, 2))


async def test_persons_are_limited_per_minute_like_posthogs_analytics_endpoints():
    clock = Clock()
    sim = PostHogSimulator(
        WORLD, project_id=7, api_key="phx_test", rate_limit_per_minute=2, clock=clock
    )
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://ph",
        headers={"Authorization": "Bearer phx_test"},
    ) as http:
        answers = [await http.get("/api/projects/7/persons/") for _ in range(3)]
        clock.now += 60
        later = await http.get("/api/projects/7/persons/")
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["Retry-After"] == "60"
    assert later.status_code == 200


async def test_a_query_running_past_the_max_execution_time_is_posthogs_504(base_url):
    sim = PostHogSimulator(
        WORLD, project_id=7, api_key="phx_test", latency=0.2, max_execution_time=0.05
    )
    async with serve_app(sim.app) as url:
        response = await post_query(url, "select event from events limit 1")
    assert response.status_code == 504
    assert response.json()["type"] == "server_error"
    assert response.json()["detail"].startswith(
        "Query has hit the max execution time before completing."
    )

"""PostHog's HTTP Webhook destination: the body its template sends, read into
the same canonical event the query API's row maps to; the shared secret; and
the backfill's page query."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.demo_world import World
from connectors.errors import UpstreamBadResponse
from connectors.models import ActivityKind
from connectors.posthog.destination import parse_delivery, verify_secret
from connectors.posthog.hogql import EVENT_COLUMNS, MAX_ROWS, history_query
from connectors.posthog.mapping import event_from_row
from connectors.posthog.simulator.data import Analytics
from connectors.posthog.simulator.destination import WebhookDestination, luxon_iso

WORLD = World(seed=3, size=8)


@pytest.fixture(scope="module")
def analytics() -> Analytics:
    return Analytics(WORLD)


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


def query_row(event: dict[str, Any]) -> list[Any]:
    """The event as the query API's ``EVENT_COLUMNS`` row."""
    props = event["properties"]
    return [
        event["uuid"],
        event["event"],
        event["distinct_id"],
        event["timestamp"].isoformat().replace("+00:00", "Z"),
        props.get("$current_url"),
        props.get("$pathname"),
        props.get("$session_id"),
        json.dumps(props),
    ]


def test_the_template_body_reads_as_the_event_the_query_api_returns(
    analytics: Analytics,
) -> None:
    destination = WebhookDestination("http://gw/webhooks/posthog", {})
    person = analytics.persons[0]
    events = analytics.events_of(person)
    assert events
    for event in events:
        body = destination.body(analytics, event)
        assert set(body) == {"event", "person"}
        assert set(body["event"]) == {
            "uuid",
            "event",
            "distinct_id",
            "properties",
            "elements_chain",
            "timestamp",
            "url",
        }
        assert set(body["person"]) == {"id", "name", "url", "properties"}
        assert body["person"]["name"] == person.properties["email"]
        assert parse_delivery(raw(body)) == event_from_row(query_row(event))


def test_luxon_times_carry_milliseconds_and_z() -> None:
    moment = datetime(2025, 3, 20, 13, 14, 9, 402000, tzinfo=UTC)
    assert luxon_iso(moment) == "2025-03-20T13:14:09.402Z"


def test_the_older_globals_spelling_is_read_too(analytics: Analytics) -> None:
    event = analytics.events_of(analytics.persons[0])[0]
    body = WebhookDestination("http://gw", {}).body(analytics, event)
    body["event"]["name"] = body["event"].pop("event")
    body["person"]["uuid"] = body["person"].pop("id")
    assert parse_delivery(raw(body)).name == event["event"]


def test_a_delivery_keeps_what_the_query_mapping_keeps() -> None:
    body = {
        "event": {
            "uuid": "0190C1C4-0000-7000-8000-000000000001",
            "event": "Product Viewed",
            "distinct_id": "maya@example.com",
            "properties": {
                "$current_url": "https://shop.example/p/1",
                "$pathname": "/p/1",
                "$session_id": "s-1",
                "$ip": "192.0.2.1",
                "$browser": "Firefox",
                "sku": "A1",
            },
            "timestamp": "2025-03-20T13:14:09",
        },
        "person": None,
    }
    event = parse_delivery(raw(body))
    assert event.id == "0190c1c4-0000-7000-8000-000000000001"
    assert event.kind is ActivityKind.PRODUCT_VIEW
    assert event.occurred_at == datetime(2025, 3, 20, 13, 14, 9, tzinfo=UTC)
    assert (event.url, event.path, event.session_id) == (
        "https://shop.example/p/1",
        "/p/1",
        "s-1",
    )
    assert dict(event.properties) == {"$browser": "Firefox", "sku": "A1"}


def test_a_sender_property_of_the_wrong_type_is_left_out_not_refused() -> None:
    body = {
        "event": {
            "uuid": "0190c1c4-0000-7000-8000-000000000002",
            "event": "$pageview",
            "distinct_id": "d-1",
            "properties": {"$current_url": 7, "$session_id": ["s"]},
            "timestamp": "2025-03-20T13:14:09.402Z",
        }
    }
    event = parse_delivery(raw(body))
    assert (event.url, event.session_id) == (None, None)


GOOD = {
    "uuid": "0190c1c4-0000-7000-8000-000000000003",
    "event": "$pageview",
    "distinct_id": "maya@example.com",
    "properties": {},
    "timestamp": "2025-03-20T13:14:09.402Z",
}

REFUSED: list[tuple[str, Any, str]] = [
    ("no event", {"person": None}, "body.event is missing"),
    ("event null", {"event": None}, "body.event is missing"),
    ("event a list", {"event": [GOOD]}, "body.event is not an object"),
    ("a list body", [{"event": GOOD}], "not an object"),
    ("no uuid", {"event": {**GOOD, "uuid": None}}, "event.uuid is missing"),
    ("uuid not a UUID", {"event": {**GOOD, "uuid": "e-1"}}, "is not a UUID"),
    ("uuid a number", {"event": {**GOOD, "uuid": 7}}, "is not a string"),
    ("no name", {"event": {**GOOD, "event": None}}, "event.event is missing"),
    ("no distinct id", {"event": {**GOOD, "distinct_id": None}}, "is missing"),
    ("blank distinct id", {"event": {**GOOD, "distinct_id": " "}}, "is empty"),
    ("distinct id a number", {"event": {**GOOD, "distinct_id": 5}}, "not a string"),
    ("no timestamp", {"event": {**GOOD, "timestamp": None}}, "is missing"),
    ("bad timestamp", {"event": {**GOOD, "timestamp": "soon"}}, "not an ISO"),
    ("year 1", {"event": {**GOOD, "timestamp": "0001-01-01T00:00:00Z"}}, "between"),
    ("properties a list", {"event": {**GOOD, "properties": []}}, "not an object"),
    ("a NUL", {"event": {**GOOD, "distinct_id": "m\x00"}}, "NUL"),
]


@pytest.mark.parametrize(
    ("body", "problem"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_malformed_delivery_is_refused_naming_the_field(
    body: Any, problem: str
) -> None:
    with pytest.raises(UpstreamBadResponse) as refused:
        parse_delivery(raw(body))
    assert problem in refused.value.detail


def test_the_secret_matches_only_itself() -> None:
    assert verify_secret("s3cret-value", "s3cret-value")
    assert not verify_secret("s3cret-valuE", "s3cret-value")
    assert not verify_secret(None, "s3cret-value")
    assert not verify_secret("", "s3cret-value")
    assert not verify_secret("anything", "")
    assert not verify_secret("\xff\xfe", "s3cret-value")  # a header's Latin-1 bytes


def test_the_history_page_query_reads_a_time_range_oldest_first() -> None:
    since = datetime(2025, 3, 20, 13, 14, 9, 402000, tzinfo=UTC)
    until = datetime(2025, 3, 21, tzinfo=UTC)
    query = history_query(since, until, limit=10_000)
    assert query.startswith(f"select {', '.join(EVENT_COLUMNS)} from events")
    assert "timestamp >= toDateTime('2025-03-20T13:14:09.402000Z')" in query
    assert "timestamp < toDateTime('2025-03-21T00:00:00.000000Z')" in query
    assert query.endswith("order by timestamp asc limit 10000")
    assert history_query(since, until, limit=10**9).endswith(f"limit {MAX_ROWS}")

"""PostHog JSON -> canonical models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.models import ActivityKind
from connectors.posthog.mapping import (
    activity_from_rows,
    customer_from_person,
    event_from_row,
    kind_of,
    parse_time,
    persons_from_rows,
)


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("$pageview", ActivityKind.PAGE_VIEW),
        ("Product Viewed", ActivityKind.PRODUCT_VIEW),
        ("product_viewed", ActivityKind.PRODUCT_VIEW),
        ("Product Added", ActivityKind.ADD_TO_CART),
        ("add_to_cart", ActivityKind.ADD_TO_CART),
        ("Products Searched", ActivityKind.SEARCH),
        ("$search", ActivityKind.SEARCH),
        ("Coupon Applied", ActivityKind.CUSTOM),
        ("$pageleave", ActivityKind.CUSTOM),
    ],
)
def test_event_names_map_to_activity_kinds(event, kind):
    assert kind_of(event) is kind


def test_both_timestamp_dialects_parse_to_the_same_utc_instant():
    expected = datetime(2025, 3, 20, 13, 14, 9, 402000, tzinfo=UTC)
    assert parse_time("2025-03-20T13:14:09.402000Z") == expected
    assert parse_time("2025-03-20T13:14:09.402000+00:00") == expected
    assert parse_time("2025-03-20T14:14:09.402000+01:00") == expected


def test_query_row_becomes_an_activity_event_with_url_and_session():
    props = {"$current_url": "https://s.example/p/1", "$ip": "1.2.3.4", "sku": "A1"}
    row = [
        "0190c1c4-0000-7000-8000-000000000001",
        "$pageview",
        "maya@example.com",
        "2025-03-20T13:14:09.402000Z",
        "https://s.example/p/1",
        "/p/1",
        "sess-1",
        json.dumps(props),
    ]
    event = event_from_row(row)
    assert event.kind is ActivityKind.PAGE_VIEW
    assert (event.url, event.path, event.session_id) == (
        "https://s.example/p/1",
        "/p/1",
        "sess-1",
    )
    assert event.properties == {"sku": "A1"}
    assert event.occurred_at.tzinfo is UTC


def test_null_cells_for_missing_properties_stay_none():
    row = ["u", "Signed Up", "d", "2025-03-20T13:14:09Z", None, None, None, "{}"]
    event = event_from_row(row)
    assert (event.url, event.path, event.session_id) == (None, None, None)
    assert event.kind is ActivityKind.CUSTOM


def test_person_uses_the_identified_distinct_id_as_external_id():
    customer = customer_from_person(
        {
            "id": 1042,
            "uuid": "0190c1c4-aaaa-7000-8000-000000000001",
            "name": "maya@example.com",
            "distinct_ids": ["maya@example.com", "0190c1c4-anon"],
            "properties": {"email": "Maya@Example.com", "name": "Maya Lind"},
            "created_at": "2025-03-20T13:14:09.402000Z",
            "last_seen_at": None,
        }
    )
    assert customer.external_id == "maya@example.com"
    assert customer.email == "maya@example.com"
    assert (customer.first_name, customer.last_name) == ("Maya", "Lind")
    assert customer.properties["distinct_ids"] == ("maya@example.com", "0190c1c4-anon")


def event_row(distinct_id: str, uuid: str, at: str) -> list[object]:
    return ["event", uuid, "$pageview", distinct_id, at, None, "/", "s1", "{}", None]


def test_activity_rows_split_into_events_and_summary_per_person():
    nulls = [None] * 5
    rows = [
        event_row("a", "e1", "2025-03-20T13:00:00Z"),
        event_row("a", "e2", "2025-03-20T14:00:00Z"),
        ["last_seen", None, None, "a", "2025-03-20T14:00:00Z", *nulls],
        ["sessions", None, None, "a", None, None, None, None, None, 3],
        ["last_seen", None, None, "old", "2024-01-01T00:00:00Z", *nulls],
        ["sessions", None, None, "stranger", None, None, None, None, None, 9],
    ]
    found = activity_from_rows(["a", "old", "none"], rows)
    assert list(found) == ["a", "old", "none"]
    assert [e.id for e in found["a"].events] == ["e2", "e1"]
    assert found["a"].summary.last_seen == datetime(2025, 3, 20, 14, tzinfo=UTC)
    assert found["a"].summary.sessions == 3
    assert found["old"].events == ()
    assert found["old"].summary.sessions == 0
    assert found["none"].summary.last_seen is None


def test_person_rows_group_by_person_with_the_identified_id_first():
    props = json.dumps({"email": "maya@example.com", "name": "Maya Lind"})
    anon = "0190c1c4-aaaa-7000-8000-000000000002"
    rows = [
        ["p1", anon, "2025-03-20T13:14:09.402000Z", props],
        ["p1", "maya@example.com", "2025-03-20T13:14:09.402000Z", props],
    ]
    (customer,) = persons_from_rows(rows)
    assert customer.external_id == "maya@example.com"
    assert customer.properties["distinct_ids"] == ("maya@example.com", anon)
    assert customer.properties["person_uuid"] == "p1"
    assert customer.created_at == datetime(2025, 3, 20, 13, 14, 9, 402000, tzinfo=UTC)

"""The HogQL the connector sends, and the simulator's evaluator of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.posthog.hogql import events_query, quote, sessions_query
from connectors.posthog.hogql_eval import evaluate
from connectors.posthog.hogql_parser import HogQLError, parse

NOW = datetime(2025, 3, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "literal"),
    [
        ("maya@example.com", "'maya@example.com'"),
        ("o'brien@example.com", "'o\\'brien@example.com'"),
        ("back\\slash", "'back\\\\slash'"),
        ("line\nbreak\ttab", "'line\\nbreak\\ttab'"),
        ("nul\0", "'nul\\0'"),
    ],
)
def test_quote_escapes_like_posthog(raw, literal):
    assert quote(raw) == literal


@pytest.mark.parametrize("raw", ["o'brien", "a\\'b", "x' or 1=1 --", "\\", "tab\t'"])
def test_quoted_ids_round_trip_through_the_parser(raw):
    query = parse(events_query([raw], limit=5, days=30), now=NOW)
    assert query.where[0].values == (raw,)


def test_events_query_limits_per_person_and_overall():
    hogql = events_query(["a", "b"], limit=20, days=90)
    assert "distinct_id in ('a', 'b')" in hogql
    assert hogql.endswith("limit 20 by distinct_id limit 40")
    with pytest.raises(ValueError, match="at least one"):
        events_query([], limit=5, days=1)


def event(distinct_id: str, minutes: int, session: str, name: str = "$pageview"):
    return {
        "uuid": f"{distinct_id}-{minutes}",
        "event": name,
        "distinct_id": distinct_id,
        "timestamp": NOW - timedelta(minutes=minutes),
        "person_id": "p",
        "properties": {"$session_id": session, "price": 54.0},
    }


ROWS = [
    event("a", 1, "s1"),
    event("a", 2, "s1"),
    event("a", 3, "s2"),
    event("b", 5, "s3"),
    event("b", 60 * 24 * 40, "s4"),
    event("c", 1, "s5"),
]


def run(hogql: str):
    return evaluate(hogql, lambda ids: ROWS, now=NOW)


def test_limit_by_keeps_the_newest_rows_of_each_person():
    result = run(
        "select uuid, timestamp from events where distinct_id in ('a', 'b') "
        "order by timestamp desc limit 2 by distinct_id limit 10"
    )
    assert [r[0] for r in result.results] == ["a-1", "a-2", "b-5", f"b-{60 * 24 * 40}"]
    assert result.results[0][1] == "2025-03-20T11:59:00Z"
    assert result.has_more is False


def test_count_distinct_sessions_within_an_interval():
    result = run(sessions_query(["a", "b"], days=30))
    assert sorted(result.results) == [["a", 2], ["b", 1]]
    assert result.types[1] == ["count(DISTINCT properties.$session_id)", "UInt64"]


def test_max_timestamp_grouped_by_person():
    result = run(
        "select distinct_id, max(timestamp) from events group by distinct_id "
        "order by distinct_id asc"
    )
    assert result.results == [
        ["a", "2025-03-20T11:59:00Z"],
        ["b", "2025-03-20T11:55:00Z"],
        ["c", "2025-03-20T11:59:00Z"],
    ]


def test_property_cells_are_strings_and_default_limit_applies():
    many = evaluate(
        "select properties.price from events",
        lambda ids: ROWS * 30,
        now=NOW,
    )
    assert many.results[0] == ["54.0"]
    assert len(many.results) == 100
    assert many.has_more is True


@pytest.mark.parametrize(
    "hogql",
    [
        "select * from events",
        "select uuid from persons",
        "select nope from events",
        "select uuid from events where distinct_id like 'a%'",
        "select distinct_id, event from events group by distinct_id",
        "select uuid from events limit",
        "drop table events",
    ],
)
def test_queries_outside_the_subset_are_rejected(hogql):
    with pytest.raises(HogQLError):
        run(hogql)

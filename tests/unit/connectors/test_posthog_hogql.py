"""The HogQL the connector sends, parsed by PostHog's own parser, and the
simulator's evaluator of it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.posthog.hogql import (
    activity_query,
    persons_query,
    quote,
    summary_query,
)
from connectors.posthog.simulator.hogql_ast import HogQLError, HogQLSyntaxError
from connectors.posthog.simulator.hogql_eval import evaluate
from connectors.posthog.simulator.hogql_parse import parse

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


HOSTILE = ["o'brien", "a\\'b", "x' or 1=1 --", "\\", "tab\t'", "\a\b\f\v\r\n", "🙂"]


@pytest.mark.parametrize(
    "build",
    [
        lambda ids: activity_query(ids, limit=5, days=30, session_days=7),
        lambda ids: summary_query(ids, session_days=7),
        lambda ids: persons_query("email", ids),
        lambda ids: persons_query("phone", ids),
    ],
    ids=["activity", "summary", "persons by email", "persons by phone"],
)
@pytest.mark.parametrize("raw", HOSTILE)
def test_every_query_the_connector_sends_parses_with_posthogs_parser(build, raw):
    """``parse`` runs PostHog's ``hogql_parser``: a query it refuses raises,
    and each quoted id reads back as it was."""
    selects = parse(build([raw, "maya@example.com"]), now=NOW)
    assert {s.where[0].values for s in selects} == {(raw, "maya@example.com")}


def test_posthogs_parser_drops_a_nul_so_no_query_can_match_an_id_holding_one():
    """PostHog reads ``\\0`` in a string as nothing ("NUL characters are
    ignored", common/hogql_parser/string.cpp)."""
    (select,) = parse(persons_query("email", ["nul\0x"]), now=NOW)
    assert select.where[0].values == ("nulx",)


@pytest.mark.parametrize(
    ("hogql", "message"),
    [
        ("select from where", "no viable alternative at input 'select from where'"),
        ("drop table events", "mismatched input 'drop' expecting"),
        ("(select uuid from events", "missing ')' at '<EOF>'"),
        ("select uuid from events limit", "no viable alternative at input"),
    ],
)
def test_text_posthogs_parser_refuses_is_a_syntax_error(hogql, message):
    with pytest.raises(HogQLSyntaxError) as refused:
        parse(hogql, now=NOW)
    assert str(refused.value).startswith(message)
    assert refused.value.code == "hogql_syntax_error"


def test_activity_query_limits_per_person_and_overall():
    hogql = activity_query(["a", "b"], limit=20, days=90, session_days=30)
    assert hogql.count(" union all ") == 2
    assert "distinct_id in ('a', 'b')" in hogql
    assert "limit 20 by distinct_id limit 40)" in hogql
    with pytest.raises(ValueError, match="at least one"):
        activity_query([], limit=5, days=1, session_days=1)


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


PERSONS = [
    {
        "distinct_id": distinct_id,
        "person_id": person_id,
        "person": {
            "id": person_id,
            "created_at": NOW - timedelta(days=400),
            "properties": {"email": email, "phone": "+15550100"},
        },
    }
    for person_id, email, distinct_ids in [
        (
            "p1",
            "a@example.com",
            ["a@example.com", "0190c1c4-0000-7000-8000-000000000001"],
        ),
        ("p2", "b@example.com", ["b@example.com"]),
    ]
    for distinct_id in distinct_ids
]


def run(hogql: str):
    tables = {"events": ROWS, "person_distinct_ids": PERSONS}
    return evaluate(hogql, lambda table, ids: tables[table], now=NOW)


def test_limit_by_keeps_the_newest_rows_of_each_person():
    result = run(
        "select uuid, timestamp from events where distinct_id in ('a', 'b') "
        "order by timestamp desc limit 2 by distinct_id limit 10"
    )
    assert [r[0] for r in result.results] == ["a-1", "a-2", "b-5", f"b-{60 * 24 * 40}"]
    assert result.results[0][1] == "2025-03-20T11:59:00Z"
    assert result.has_more is False


def test_count_distinct_sessions_within_an_interval():
    result = run(
        "select distinct_id, count(distinct properties.$session_id) from events "
        "where timestamp >= now() - interval 30 day group by distinct_id"
    )
    assert sorted(result.results) == [["a", 2], ["b", 1], ["c", 1]]
    assert result.types[1] == ["count(DISTINCT properties.$session_id)", "UInt64"]


def test_union_all_tags_events_and_summary_rows_of_each_person():
    result = run(activity_query(["a", "b"], limit=2, days=30, session_days=30))
    rows = {(r[0], r[3]): r for r in result.results}
    events = [r for r in result.results if r[0] == "event"]
    assert [(r[3], r[1]) for r in events] == [("a", "a-1"), ("a", "a-2"), ("b", "b-5")]
    assert rows["last_seen", "b"][4] == "2025-03-20T11:55:00Z"
    assert rows["sessions", "a"][9] == 2
    assert rows["sessions", "b"][9] == 1  # the 40-day-old session is outside
    assert rows["last_seen", "a"][1:3] == [None, None]
    assert result.columns[:2] == ["'event'", "uuid"]
    assert result.types[0] == ["'event'", "String"]
    assert result.types[1] == ["uuid", "Nullable(UUID)"]
    assert result.types[4] == ["timestamp", "Nullable(DateTime64(6, 'UTC'))"]
    assert result.types[9] == ["NULL", "Nullable(UInt64)"]


def test_summary_query_has_no_event_rows():
    result = run(summary_query(["a", "c"], session_days=30))
    assert sorted((r[0], r[3]) for r in result.results) == [
        ("last_seen", "a"),
        ("last_seen", "c"),
        ("sessions", "a"),
        ("sessions", "c"),
    ]


def test_persons_by_a_property_list_every_distinct_id_with_the_person():
    result = run(persons_query("email", ["a@example.com", "nobody@example.com"]))
    assert result.columns == ["person_id", "distinct_id", "created_at", "properties"]
    assert [r[:2] for r in result.results] == [
        ["p1", "a@example.com"],
        ["p1", "0190c1c4-0000-7000-8000-000000000001"],
    ]
    assert result.results[0][2] == "2024-02-14T12:00:00Z"
    assert result.types[3] == ["properties", "String"]
    phones = run(persons_query("phone", ["+15550100"]))
    assert {r[0] for r in phones.results} == {"p1", "p2"}


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
        lambda table, ids: ROWS * 30,
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
        "select person.properties.email from events",
        "select distinct_id from person_distinct_ids union select uuid from events",
        "select distinct_id, person_id from person_distinct_ids"
        " union all select uuid from events",
        "select 'a' from events union all select count() from events",
        "select uuid from events where distinct_id like 'a%'",
        "select distinct_id, event from events group by distinct_id",
        "select uuid as id from events",
        "select distinct event from events",
        "select uuid from events limit 5 offset 5",
        "select uuid from events where event = 'a' or event = 'b'",
        "select uuid from events e join persons p on e.person_id = p.id",
        "select uuid from (select uuid from events)",
        "select 1",
    ],
)
def test_valid_queries_outside_the_subset_are_refused_as_query_errors(hogql):
    with pytest.raises(HogQLError) as refused:
        run(hogql)
    assert not isinstance(refused.value, HogQLSyntaxError)
    assert refused.value.code in {
        "hogql_query_error",
        "no_common_type",
        "not_an_aggregate",
    }


def test_loading_posthogs_parser_leaves_an_existing_posthog_module_in_place():
    """The parser imports ``posthog.hogql.*`` when it loads; the stand-ins
    serving that import must not replace another ``posthog`` (PostHog's SDK
    has that name), so this runs in a fresh interpreter."""
    script = (
        "import sys, types\n"
        "sdk = sys.modules['posthog'] = types.ModuleType('posthog')\n"
        "from connectors.posthog.simulator.hogql_parse import parse\n"
        "assert sys.modules['posthog'] is sdk\n"
        "assert not [n for n in sys.modules if n.startswith('posthog.')]\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=root)

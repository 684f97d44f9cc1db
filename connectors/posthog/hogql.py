"""The HogQL the PostHog connector sends, built in one place.

Distinct ids come from our own database, but they are user input as far as
PostHog is concerned (an email can hold a quote), so every literal goes through
``quote``, which escapes like PostHog's own ``escape_hogql_string``. Each query
covers a whole batch of persons and ends in an explicit ``limit``: without one
PostHog caps results at 100 rows, and 50,000 is the most it will return.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_ROWS = 50_000

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
}

EVENT_COLUMNS = (
    "uuid",
    "event",
    "distinct_id",
    "timestamp",
    "properties.$current_url",
    "properties.$pathname",
    "properties.$session_id",
    "properties",
)


def quote(value: str) -> str:
    """A HogQL string literal: ``O'Brien`` -> ``'O\\'Brien'``."""
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def _in_list(distinct_ids: Sequence[str]) -> str:
    if not distinct_ids:
        raise ValueError("a HogQL batch needs at least one distinct id")
    return "(" + ", ".join(quote(d) for d in distinct_ids) + ")"


def events_query(distinct_ids: Sequence[str], *, limit: int, days: int) -> str:
    """The newest ``limit`` events of each person, via ``LIMIT n BY``."""
    return (
        f"select {', '.join(EVENT_COLUMNS)} from events"
        f" where distinct_id in {_in_list(distinct_ids)}"
        f" and timestamp >= now() - interval {int(days)} day"
        f" order by timestamp desc"
        f" limit {int(limit)} by distinct_id"
        f" limit {min(MAX_ROWS, int(limit) * len(distinct_ids))}"
    )


def last_seen_query(distinct_ids: Sequence[str]) -> str:
    return (
        "select distinct_id, max(timestamp) from events"
        f" where distinct_id in {_in_list(distinct_ids)}"
        f" group by distinct_id limit {MAX_ROWS}"
    )


def sessions_query(distinct_ids: Sequence[str], *, days: int) -> str:
    return (
        "select distinct_id, count(distinct properties.$session_id) from events"
        f" where distinct_id in {_in_list(distinct_ids)}"
        f" and timestamp >= now() - interval {int(days)} day"
        f" group by distinct_id limit {MAX_ROWS}"
    )

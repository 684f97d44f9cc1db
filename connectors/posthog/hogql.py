"""The HogQL the PostHog connector sends, built in one place.

Distinct ids come from our own database, but they are user input as far as
PostHog is concerned (an email can hold a quote), so every literal goes through
``quote``, which escapes like PostHog's own ``escape_hogql_string``. Each query
covers a whole batch of persons and each of its selects ends in an explicit
``limit``: without one PostHog caps results at 100 rows, and 50,000 is the most
it will return.

``activity_query`` answers everything the gateway shows of a person's activity
in one request: a ``UNION ALL`` of the newest events, the last-seen time and the
recent sessions count, each row tagged by its first cell (``'event'``,
``'last_seen'``, ``'sessions'``) and padded with ``NULL`` so the columns line
up. ``persons_query`` finds many persons by email or phone at once through
``person_distinct_ids`` (which joins ``person``), where the persons REST list
takes one value per call. ``history_query`` reads everyone's events in a time
range, oldest first, a page at a time: the event mirror's backfill.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

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
"""The event cells of an ``activity_query`` row, after its ``'event'`` tag."""

PERSON_COLUMNS = ("person_id", "distinct_id", "person.created_at", "person.properties")


def quote(value: str) -> str:
    """A HogQL string literal: ``O'Brien`` -> ``'O\\'Brien'``."""
    return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"


def _in_list(values: Sequence[str]) -> str:
    if not values:
        raise ValueError("a HogQL batch needs at least one value")
    return "(" + ", ".join(quote(v) for v in values) + ")"


def _union(parts: Sequence[str]) -> str:
    return " union all ".join(f"({part})" for part in parts)


def _events_part(distinct_ids: Sequence[str], *, limit: int, days: int) -> str:
    """The newest ``limit`` events of each person, via ``LIMIT n BY``."""
    return (
        f"select 'event', {', '.join(EVENT_COLUMNS)}, NULL from events"
        f" where distinct_id in {_in_list(distinct_ids)}"
        f" and timestamp >= now() - interval {int(days)} day"
        f" order by timestamp desc"
        f" limit {int(limit)} by distinct_id"
        f" limit {min(MAX_ROWS, int(limit) * len(distinct_ids))}"
    )


def _summary_parts(distinct_ids: Sequence[str], *, session_days: int) -> list[str]:
    """Last seen (any event, ever) and sessions within ``session_days``; their
    other cells are ``NULL`` to line up with the events part."""
    people = _in_list(distinct_ids)
    return [
        "select 'last_seen', NULL, NULL, distinct_id, max(timestamp),"
        " NULL, NULL, NULL, NULL, NULL from events"
        f" where distinct_id in {people}"
        f" group by distinct_id limit {MAX_ROWS}",
        "select 'sessions', NULL, NULL, distinct_id, NULL, NULL, NULL, NULL, NULL,"
        " count(distinct properties.$session_id) from events"
        f" where distinct_id in {people}"
        f" and timestamp >= now() - interval {int(session_days)} day"
        f" group by distinct_id limit {MAX_ROWS}",
    ]


def activity_query(
    distinct_ids: Sequence[str], *, limit: int, days: int, session_days: int
) -> str:
    """Each person's newest events and their summary, in one ``UNION ALL``."""
    return _union(
        [
            _events_part(distinct_ids, limit=limit, days=days),
            *_summary_parts(distinct_ids, session_days=session_days),
        ]
    )


def summary_query(distinct_ids: Sequence[str], *, session_days: int) -> str:
    """Only the summary rows of ``activity_query``."""
    return _union(_summary_parts(distinct_ids, session_days=session_days))


def persons_query(person_property: str, values: Sequence[str]) -> str:
    """Every distinct id of the persons whose property equals one of ``values``."""
    return (
        f"select {', '.join(PERSON_COLUMNS)} from person_distinct_ids"
        f" where person.properties.{person_property} in {_in_list(values)}"
        f" limit {MAX_ROWS}"
    )


def _moment(value: datetime) -> str:
    """A ``toDateTime`` of ``value`` in UTC to the microsecond, as events are
    stored (``DateTime64(6)``)."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"toDateTime({quote(text)})"


def history_query(since: datetime, until: datetime, *, limit: int) -> str:
    """Every person's events from ``since`` (inclusive) until ``until``,
    oldest first, at most ``limit`` (up to ``MAX_ROWS``). A backfill pages by
    time: the next page starts at the last row's timestamp, inclusive, so
    events sharing it are read twice (and stored once) rather than missed."""
    return (
        f"select {', '.join(EVENT_COLUMNS)} from events"
        f" where timestamp >= {_moment(since)} and timestamp < {_moment(until)}"
        f" order by timestamp asc limit {max(1, min(MAX_ROWS, int(limit)))}"
    )

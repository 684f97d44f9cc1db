"""Runs a parsed HogQL query over the PostHog simulator's events.

Semantics follow ClickHouse where the subset touches it: ``limit n by f`` keeps
the first ``n`` rows per value of ``f`` after ordering; aggregates skip ``null``;
``count(distinct f)`` counts distinct non-null values. Like PostHog, a query
without ``limit`` returns at most 100 rows and none returns more than 50,000.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.posthog.hogql_parser import (
    Aggregate,
    Condition,
    Field,
    HogQLError,
    Row,
    Select,
    parse,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 50_000
_TYPES = {
    "uuid": "UUID",
    "event": "String",
    "distinct_id": "String",
    "timestamp": "DateTime64(6, 'UTC')",
    "person_id": "UUID",
    "properties": "String",
}
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}

RowSource = Callable[[frozenset[str] | None], Iterable[Row]]
"""Gives the events, narrowed to these distinct ids when the query names them."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    types: list[list[str]]
    results: list[list[Any]]
    has_more: bool
    limit: int


def evaluate(text: str, source: RowSource, *, now: datetime) -> QueryResult:
    query = parse(text, now=now)
    rows = [
        row
        for row in source(_distinct_ids(query.where))
        if all(_holds(c, row) for c in query.where)
    ]
    grouped = query.group_by is not None or any(
        isinstance(i, Aggregate) for i in query.items
    )
    keyed = _grouped(query, rows) if grouped else _plain(query, rows)
    if query.limit_by is not None:
        per_key, field = query.limit_by
        seen: dict[Any, int] = {}
        kept = []
        for row, out in keyed:
            key = field.get(row)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] <= per_key:
                kept.append((row, out))
        keyed = kept
    limit = min(MAX_LIMIT, query.limit if query.limit is not None else DEFAULT_LIMIT)
    return QueryResult(
        columns=[_name(i) for i in query.items],
        types=[[_name(i), _type(i)] for i in query.items],
        results=[[_cell(v) for v in out] for _, out in keyed[:limit]],
        has_more=len(keyed) > limit,
        limit=limit,
    )


def _distinct_ids(where: list[Condition]) -> frozenset[str] | None:
    for condition in where:
        if condition.field.path == ("distinct_id",) and condition.op in ("in", "="):
            return frozenset(str(v) for v in condition.values)
    return None


def _holds(condition: Condition, row: Row) -> bool:
    value = condition.field.get(row)
    if value is None:
        return False
    literals = [_coerce(value, v) for v in condition.values]
    if condition.op == "in":
        return value in literals
    return _OPS[condition.op](value, literals[0])


def _coerce(value: Any, literal: Any) -> Any:
    if isinstance(value, datetime) and isinstance(literal, str):
        try:
            moment = datetime.fromisoformat(literal)
        except ValueError as exc:
            raise HogQLError(f"Invalid DateTime '{literal}'") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(value, str) and not isinstance(literal, str):
        return str(literal)
    if isinstance(literal, str) and not isinstance(value, str):
        raise HogQLError(f"Cannot compare {type(value).__name__} with a string")
    return literal


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value)


def _plain(query: Select, rows: list[Row]) -> list[tuple[Row, list[Any]]]:
    if query.order_by is not None:
        order = query.order_by
        rows = sorted(
            rows, key=lambda r: _sort_key(order.get(r)), reverse=query.descending
        )
    fields = [i for i in query.items if isinstance(i, Field)]
    return [(row, [f.get(row) for f in fields]) for row in rows]


def _grouped(query: Select, rows: list[Row]) -> list[tuple[Row, list[Any]]]:
    key_field = query.group_by
    for item in query.items:
        if isinstance(item, Field) and item != key_field:
            raise HogQLError(f"Field {item.text} must appear in the GROUP BY clause")
    for extra in (query.order_by, query.limit_by[1] if query.limit_by else None):
        if extra is not None and extra != key_field:
            raise HogQLError(f"Cannot order or limit groups by {extra.text}")
    groups: dict[Any, list[Row]] = {}
    for row in rows:
        groups.setdefault(key_field.get(row) if key_field else None, []).append(row)
    keys = list(groups)
    if query.order_by is not None:
        keys.sort(key=_sort_key, reverse=query.descending)
    out = []
    for key in keys:
        members = groups[key]
        cells = [
            key if isinstance(item, Field) else _aggregate(item, members)
            for item in query.items
        ]
        representative = members[0]
        out.append((representative, cells))
    return out


def _aggregate(item: Aggregate, rows: list[Row]) -> Any:
    if item.arg is None:
        return len(rows)
    arg = item.arg
    values = [v for v in (arg.get(r) for r in rows) if v is not None]
    if item.func == "count":
        return len(set(values)) if item.distinct else len(values)
    if not values:
        return None
    return max(values) if item.func == "max" else min(values)


def _name(item: Field | Aggregate) -> str:
    return item.path[-1] if isinstance(item, Field) else item.text


def _type(item: Field | Aggregate) -> str:
    if isinstance(item, Aggregate):
        if item.func == "count":
            return "UInt64"
        return _type(item.arg) if item.arg else "Nothing"
    if item.path[0] == "properties" and len(item.path) == 2:
        return "Nullable(String)"
    return _TYPES[item.path[0]]


def _cell(value: Any) -> Any:
    """Datetimes as PostHog's orjson renders UTC ones: ``…402000Z``."""
    if isinstance(value, datetime):
        text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
        return text + "Z"
    return value

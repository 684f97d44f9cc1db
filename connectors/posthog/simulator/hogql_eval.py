"""Runs a parsed HogQL query over the PostHog simulator's tables.

Semantics follow ClickHouse where the subset touches it: ``limit n by f`` keeps
the first ``n`` rows per value of ``f`` after ordering; aggregates skip ``null``;
``count(distinct f)`` counts distinct non-null values; ``union all`` appends the
rows of each select, whose columns must share a type (``NULL`` fits any,
making it ``Nullable``). Like PostHog, a select without ``limit`` returns at
most 100 rows and none returns more than 50,000 (posthog/hogql/constants.py
``DEFAULT_RETURNED_ROWS``, ``MAX_SELECT_RETURNED_ROWS``; "API queries return up to
100 rows … up to 50k rows per query", https://posthog.com/docs/api/queries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import eq, ge, gt, le, lt, ne
from typing import Any

from connectors.posthog.simulator.hogql_ast import (
    JSON,
    Aggregate,
    Condition,
    Constant,
    Field,
    HogQLError,
    Item,
    Row,
    Select,
)
from connectors.posthog.simulator.hogql_parse import parse

DEFAULT_LIMIT = 100
MAX_LIMIT = 50_000
_NOTHING = "Nothing"
_OPS: dict[str, Callable[[Any, Any], bool]] = {"=": eq, "!=": ne, ">=": ge, ">": gt}
_OPS |= {"<=": le, "<": lt}

RowSource = Callable[[str, frozenset[str] | None], Iterable[Row]]
"""Gives a table's rows, narrowed to these distinct ids when the query names them."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    types: list[list[str]]
    results: list[list[Any]]
    has_more: bool
    limit: int
    tables: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Part:
    rows: list[list[Any]]
    has_more: bool
    limit: int


def evaluate(text: str, source: RowSource, *, now: datetime) -> QueryResult:
    selects = parse(text, now=now)
    types = _union_types(selects)
    parts = [_run(query, source) for query in selects]
    columns = [_name(i) for i in selects[0].items]
    return QueryResult(
        columns=columns,
        types=[[name, kind] for name, kind in zip(columns, types, strict=True)],
        results=[row for part in parts for row in part.rows],
        has_more=any(part.has_more for part in parts),
        limit=max(part.limit for part in parts),
        tables=frozenset(query.table for query in selects),
    )


def _run(query: Select, source: RowSource) -> _Part:
    rows = [
        row
        for row in source(query.table, _distinct_ids(query.where))
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
    return _Part(
        rows=[[_cell(v) for v in out] for _, out in keyed[:limit]],
        has_more=len(keyed) > limit,
        limit=limit,
    )


def _union_types(selects: list[Select]) -> list[str]:
    """Each column's type across the selects, as ClickHouse finds a supertype."""
    types = []
    for column in zip(*(s.items for s in selects), strict=True):
        kinds = [_type(item) for item in column]
        nullable = any(k == _NOTHING or k.startswith("Nullable(") for k in kinds)
        bare = {_not_null(k) for k in kinds} - {_NOTHING}
        if len(bare) > 1:
            raise HogQLError(
                f"There is no supertype for types {', '.join(kinds)}", "no_common_type"
            )
        kind = bare.pop() if bare else _NOTHING
        types.append(f"Nullable({kind})" if nullable else kind)
    return types


def _not_null(kind: str) -> str:
    return kind[len("Nullable(") : -1] if kind.startswith("Nullable(") else kind


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
    return [(row, [_value(item, row) for item in query.items]) for row in rows]


def _value(item: Item, row: Row) -> Any:
    if isinstance(item, Constant):
        return item.value
    if isinstance(item, Field):
        return item.get(row)
    raise HogQLError(f"Aggregate {item.text} outside a grouped query")


def _grouped(query: Select, rows: list[Row]) -> list[tuple[Row, list[Any]]]:
    key_field = query.group_by
    for item in query.items:
        if isinstance(item, Field) and item != key_field:
            raise HogQLError(
                f"Field {item.text} must appear in the GROUP BY clause",
                "not_an_aggregate",
            )
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
        cells = [_group_cell(item, key, members) for item in query.items]
        out.append((members[0], cells))
    return out


def _group_cell(item: Item, key: Any, members: list[Row]) -> Any:
    if isinstance(item, Aggregate):
        return _aggregate(item, members)
    return key if isinstance(item, Field) else item.value


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


def _name(item: Item) -> str:
    return item.path[-1] if isinstance(item, Field) else item.text


def _type(item: Item) -> str:
    if isinstance(item, Constant):
        return _NOTHING if item.value is None else "String"
    if isinstance(item, Aggregate):
        if item.func == "count":
            return "UInt64"
        return _type(item.arg) if item.arg else _NOTHING
    return "String" if item.type == JSON else item.type


def _cell(value: Any) -> Any:
    """Datetimes as PostHog's orjson renders UTC ones: ``…402000Z``."""
    if isinstance(value, datetime):
        text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
        return text + "Z"
    return value

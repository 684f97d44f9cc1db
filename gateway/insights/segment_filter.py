"""Segment filters: a JSON tree of conditions compiled to one SQL query.

The tree has the shape of the GraphQL ``SegmentFilter`` input (camelCase keys),
so a saved segment stores exactly what its creator sent. Keys in one object
must all hold (AND); ``and``/``or`` take lists of trees, ``not`` one tree::

    {"rfmSegmentIn": ["At Risk", "Hibernating"],
     "consent": {"channel": "email", "state": "granted"},
     "not": {"tagsAny": ["b2b"]}}

A filter is bounded before it is compiled (``MAX_NODES`` conditions and
values, ``MAX_DEPTH`` levels, ``MAX_TEXT`` characters a string): past them it
is BAD_USER_INPUT, so no filter is saved that the database cannot evaluate.

Every leaf is made two-valued (a missing trait is *false*, never SQL NULL),
so ``not`` of a condition is exactly its complement. The result selects
customer ids from ``customers`` left-joined to their traits and RFM row;
list-valued conditions (tags, categories, consent, address) are ``EXISTS``
sub-queries on indexed tables, so a count stays one statement. The relative
and historical rules (``birthday``, ``purchased``, ``replenishmentDue``,
``abandonedCheckout``, ``viewedProduct``) are ``gateway.insights.segment_rules``;
the values of every condition are read by ``gateway.insights.filter_values``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    extract,
    not_,
    or_,
    select,
    true,
)

from gateway.auth.policy import Role, may_compare
from gateway.db import models
from gateway.errors import BadUserInput
from gateway.insights.filter_values import MAX_DAYS, moment, number, strings, whole
from gateway.insights.rfm import SEGMENTS
from gateway.insights.segment_rules import INPUT_TYPES, RULES, leaves
from gateway.insights.tables import CustomerRfm, CustomerTraits, OrderLineFact

Spec = Mapping[str, Any]
T, C = CustomerTraits, models.Customer
MAX_NODES = 200
"""Conditions plus list entries in one filter. SQLite refuses an expression
deeper than 1,000 (an ``or`` of 2,000 tags was an internal error), and a
filter an operator writes by hand has a few dozen."""
MAX_DEPTH = 8
MAX_TEXT = 255
"""Longest string in a filter (a tag, category, SKU, country, region or city)."""

RANGES: dict[str, Any] = {
    "lifetimeValue": T.lifetime_value,
    "orderCount": T.order_count,
    "averageOrderValue": T.average_order_value,
    "averageDaysBetweenOrders": T.average_days_between_orders,
    "returnRate": T.return_rate,
    "satisfaction": T.average_satisfaction,
    "openTickets": T.open_tickets,
    "ticketCount": T.ticket_count,
}
TIMES: dict[str, Any] = {
    "firstOrderAt": T.first_order_at,
    "lastOrderAt": T.last_order_at,
    "predictedNextOrderAt": T.predicted_next_order_at,
    "lastSeenAt": T.last_seen_at,
}
TEXTS: dict[str, Any] = {
    "favouriteCategory": T.favourite_category_by_quantity,
    "favouriteCategoryBySpend": T.favourite_category_by_spend,
}
ADDRESS: dict[str, Any] = {
    "country": models.Address.country,
    "region": models.Address.region,
    "city": models.Address.city,
}


def _range(key: str, column: Any, spec: object) -> ColumnElement[bool]:
    if not isinstance(spec, Mapping) or not spec.keys() <= {"gte", "lte"}:
        raise BadUserInput(f"`{key}` takes {{gte, lte}}.", field=key)
    terms = [column.is_not(None)]
    if spec.get("gte") is not None:
        terms.append(column >= number(key, spec["gte"]))
    if spec.get("lte") is not None:
        terms.append(column <= number(key, spec["lte"]))
    return and_(*terms)


def _time(key: str, column: Any, spec: object, now: datetime) -> ColumnElement[bool]:
    allowed = {"after", "before", "lastDays", "nextDays"}
    if not isinstance(spec, Mapping) or not spec.keys() <= allowed:
        raise BadUserInput(
            f"`{key}` takes {{after, before, lastDays, nextDays}}.", field=key
        )
    terms = [column.is_not(None)]
    if spec.get("after") is not None:
        terms.append(column >= moment(key, spec["after"]))
    if spec.get("before") is not None:
        terms.append(column < moment(key, spec["before"]))
    if spec.get("lastDays") is not None:
        days = whole(key, spec["lastDays"], 0, MAX_DAYS)
        terms += [column >= now - timedelta(days=days), column <= now]
    if spec.get("nextDays") is not None:
        days = whole(key, spec["nextDays"], 0, MAX_DAYS)
        terms += [column >= now, column <= now + timedelta(days=days)]
    return and_(*terms)


def _tags(names: list[str]) -> ColumnElement[bool]:
    return exists().where(models.Tag.customer_id == C.id, models.Tag.name.in_(names))


def _category(names: list[str]) -> ColumnElement[bool]:
    line = OrderLineFact
    return exists().where(line.customer_id == C.id, line.category.in_(names))


def _consent(spec: object) -> ColumnElement[bool]:
    if not isinstance(spec, Mapping) or spec.get("channel") not in ("email", "sms"):
        raise BadUserInput("`consent` takes {channel, state}.", field="consent")
    k = models.Consent
    terms = [k.customer_id == C.id, k.channel == spec["channel"]]
    if spec.get("state") is not None:
        terms.append(k.state == spec["state"])
    return exists().where(*terms)


def _segments(value: object) -> ColumnElement[bool]:
    names = strings("rfmSegmentIn", value)
    if unknown := set(names) - set(SEGMENTS):
        raise BadUserInput(
            f"Unknown RFM segments: {', '.join(sorted(unknown))}.",
            field="rfmSegmentIn",
        )
    return and_(CustomerRfm.segment.is_not(None), CustomerRfm.segment.in_(names))


def _address(key: str, value: object) -> ColumnElement[bool]:
    text = str(value).upper() if key == "country" else str(value)
    a = models.Address
    return exists().where(a.customer_id == C.id, ADDRESS[key] == text)


def _leaf(key: str, value: Any, now: datetime) -> ColumnElement[bool]:
    if key in RANGES:
        return _range(key, RANGES[key], value)
    if key in TIMES:
        return _time(key, TIMES[key], value, now)
    if key in TEXTS:
        column = TEXTS[key]
        return and_(column.is_not(None), column == str(value))
    if key in ADDRESS:
        return _address(key, value)
    if key in RULES:
        return RULES[key](key, value, now)
    simple: dict[str, Callable[[], ColumnElement[bool]]] = {
        "and": lambda: and_(*(_compile(s, now) for s in _trees(key, value))),
        "or": lambda: or_(*(_compile(s, now) for s in _trees(key, value))),
        "not": lambda: not_(_compile(value, now)),
        "rfmSegmentIn": lambda: _segments(value),
        "tagsAny": lambda: _tags(strings(key, value)),
        "tagsAll": lambda: and_(*(_tags([t]) for t in strings(key, value))),
        "categoriesAny": lambda: _category(strings(key, value)),
        "categoriesAll": lambda: and_(*(_category([n]) for n in strings(key, value))),
        "consent": lambda: _consent(value),
        "birthMonth": lambda: and_(
            C.birth_date.is_not(None),
            extract("month", C.birth_date) == whole(key, value, 1, 12),
        ),
    }
    if key not in simple:
        raise BadUserInput(f"Unknown segment condition `{key}`.", field=key)
    return simple[key]()


def _trees(key: str, value: object) -> list[Spec]:
    if not isinstance(value, list) or not value:
        raise BadUserInput(f"`{key}` takes a non-empty list of filters.", field=key)
    return value


def _measure(spec: object, depth: int = 1) -> int:
    """Conditions and list entries in ``spec``; BAD_USER_INPUT past the bounds."""
    if depth > MAX_DEPTH:
        raise BadUserInput(
            f"A segment filter nests at most {MAX_DEPTH} levels.", field="filter"
        )
    if isinstance(spec, Mapping):
        return sum(1 + _measure(v, depth + 1) for v in spec.values() if v is not None)
    if isinstance(spec, list):
        return sum(_measure(v, depth) for v in spec)
    if isinstance(spec, str) and len(spec) > MAX_TEXT:
        raise BadUserInput(
            f"Segment filter values have at most {MAX_TEXT} characters.",
            field="filter",
        )
    return 1


def compile_filter(spec: object, now: datetime) -> ColumnElement[bool]:
    """The condition ``spec`` describes, over ``customers`` joined as in
    ``segment_query``; BAD_USER_INPUT for anything malformed or larger than
    ``MAX_NODES``, before any SQL is built or sent."""
    if _measure(spec) > MAX_NODES:
        raise BadUserInput(
            f"A segment filter has at most {MAX_NODES} conditions and values.",
            field="filter",
        )
    return _compile(spec, now)


def _compile(spec: object, now: datetime) -> ColumnElement[bool]:
    if not isinstance(spec, Mapping):
        raise BadUserInput("A segment filter is an object.", field="filter")
    terms = [_leaf(key, value, now) for key, value in spec.items() if value is not None]
    return and_(*terms) if terms else true()


def hidden_conditions(role: Role, spec: object) -> list[str]:
    """The conditions of a saved filter that compare with personal data
    ``role`` does not see in full (``policy.COMPARED``, as ``SegmentFilter``
    coordinates): its members would tell that role those values, so it may
    not read them (``SavedSegment.members``, exports)."""
    used: set[str] = set()
    for key, value in leaves(spec):
        used.add(f"SegmentFilter.{key}")
        if key in INPUT_TYPES and isinstance(value, Mapping):
            named = INPUT_TYPES[key]
            used.update(f"{named}.{k}" for k in value if value[k] is not None)
    return sorted(c for c in used if not may_compare(role, c))


def segment_query(spec: Spec, now: datetime) -> Select[int]:
    """``SELECT customers.id`` of everyone ``spec`` matches (unordered);
    never a merged customer (its survivor stands for it)."""
    return (
        select(C.id)
        .select_from(C)
        .outerjoin(T, T.customer_id == C.id)
        .outerjoin(CustomerRfm, CustomerRfm.customer_id == C.id)
        .where(models.not_merged(C.id), compile_filter(spec, now))
    )

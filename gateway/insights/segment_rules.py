"""Relative and historical segment rules: birthdays, purchases, replenishment,
abandoned checkouts and product views (docs/segments.md, "Filters").

Each rule reads its JSON object (``gateway.insights.filter_values``: a bad
value is BAD_USER_INPUT naming ``rule.field``) and returns a condition on
``customers`` built from indexed fact tables, so a filter stays one
statement. Days are counted from ``now``, the moment the filter is evaluated:
a saved segment using them is *dynamic* (``is_dynamic``) and its members are
read at read time (``gateway.insights.segments``), so it stays right as days
pass without being saved again. Calendar days are UTC days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, extract, func, or_, select, true

from gateway.db import models
from gateway.errors import BadUserInput
from gateway.insights.filter_values import MAX_DAYS, fields, moment, text, whole
from gateway.insights.product_tables import Product
from gateway.insights.replenishment import replenishment_rows
from gateway.insights.tables import (
    CheckoutFact,
    OrderFact,
    OrderItemFact,
    OrderLineFact,
)

C = models.Customer
Rule = Callable[[str, object, datetime], ColumnElement[bool]]
MAX_AHEAD_DAYS = 365
MAX_QUANTITY = 1_000_000
VIEWED = ("Product Viewed", "Viewed Product")
"""Segment's e-commerce spec v2 event and its v1 alias
(https://segment.com/docs/connections/spec/ecommerce/v2/#product-viewed):
properties ``sku``, ``product_id``, ``category``."""


def _month_day(moment: Any) -> Any:
    return extract("month", moment) * 100 + extract("day", moment)


def _number_of(day: date) -> int:
    return day.month * 100 + day.day


def _within(today: date, days: int) -> ColumnElement[bool]:
    """A birthday (month and day) falls from ``today`` to ``today + days``.
    Someone born on 29 February celebrates on the 28th in other years."""
    if days >= 365:
        return true()
    end = today + timedelta(days=days)
    first, last = _number_of(today), _number_of(end)
    if end.month == 2 and end.day == 28 and not _leap(end.year):
        last = 229
    md = _month_day(C.birth_date)
    if first <= last:
        return and_(md >= first, md <= last)
    return or_(md >= first, md <= last)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthday(key: str, value: object, now: datetime) -> ColumnElement[bool]:
    spec = fields(key, value, {"withinDays", "monthsAhead"})
    if not spec:
        raise BadUserInput(f"`{key}` takes withinDays or monthsAhead.", field=key)
    terms: list[ColumnElement[bool]] = [C.birth_date.is_not(None)]
    today = now.date()
    if "withinDays" in spec:
        days = whole(f"{key}.withinDays", spec["withinDays"], 0, MAX_AHEAD_DAYS)
        terms.append(_within(today, days))
    if "monthsAhead" in spec:
        ahead = whole(f"{key}.monthsAhead", spec["monthsAhead"], 0, 11)
        month = (today.month - 1 + ahead) % 12 + 1
        terms.append(extract("month", C.birth_date) == month)
    return and_(*terms)


def _window(key: str, spec: Mapping[str, Any], column: Any, now: datetime) -> list[Any]:
    terms = []
    if "between" in spec:
        span = fields(f"{key}.between", spec["between"], {"from", "to"})
        ends = {end: moment(f"{key}.between", span[end]) for end in span}
        if "from" in ends and "to" in ends and ends["from"] > ends["to"]:
            raise BadUserInput(
                f"`{key}.between`: from is after to.", field=f"{key}.between"
            )
        if "from" in ends:
            terms.append(column >= ends["from"])
        if "to" in ends:
            terms.append(column <= ends["to"])
    if "inLastDays" in spec:
        days = whole(f"{key}.inLastDays", spec["inLastDays"], 1, MAX_DAYS)
        terms += [column >= now - timedelta(days=days), column <= now]
    return terms


def purchased(key: str, value: object, now: datetime) -> ColumnElement[bool]:
    """Bought (a SKU, a category, anything) in a window, at least
    ``minQuantity`` units in all (orders not cancelled)."""
    spec = fields(
        key, value, {"sku", "category", "between", "inLastDays", "minQuantity"}
    )
    least = whole(f"{key}.minQuantity", spec.get("minQuantity", 1), 1, MAX_QUANTITY)
    if "sku" in spec:
        i = OrderItemFact
        who, when, units = i.customer_id, i.processed_at, i.quantity
        terms = [i.sku == text(f"{key}.sku", spec["sku"])]
        source: Any = i
        if "category" in spec:
            source = i.__table__.join(Product, Product.sku == i.sku)
            terms.append(Product.category == text(f"{key}.category", spec["category"]))
    else:
        line, order = OrderLineFact, OrderFact
        who, when, units = line.customer_id, order.processed_at, line.quantity
        source = line.__table__.join(order, order.order_id == line.order_id)
        terms = []
        if "category" in spec:
            terms.append(line.category == text(f"{key}.category", spec["category"]))
    terms += _window(key, spec, when, now)
    if least == 1:
        return exists(select(who).select_from(source).where(who == C.id, *terms))
    return C.id.in_(
        select(who)
        .select_from(source)
        .where(*terms)
        .group_by(who)
        .having(func.sum(units) >= least)
    )


def replenishment_due(key: str, value: object, now: datetime) -> ColumnElement[bool]:
    """A product bought (of a SKU, of a category, any) runs out from now to
    ``withinDays`` days ahead (``gateway.insights.replenishment``)."""
    spec = fields(key, value, {"sku", "category", "withinDays"})
    if "withinDays" not in spec:
        raise BadUserInput(f"`{key}` takes withinDays.", field=f"{key}.withinDays")
    days = whole(f"{key}.withinDays", spec["withinDays"], 0, MAX_AHEAD_DAYS)
    sku = text(f"{key}.sku", spec["sku"]) if "sku" in spec else None
    kind = text(f"{key}.category", spec["category"]) if "category" in spec else None
    rows = replenishment_rows(sku=sku, category=kind)
    due = rows.c.expected_run_out_at
    return C.id.in_(
        select(rows.c.customer_id).where(due >= now, due <= now + timedelta(days=days))
    )


def abandoned_checkout(key: str, value: object, now: datetime) -> ColumnElement[bool]:
    """Left a checkout unpaid in the last ``inLastDays`` days, and has not
    ordered since (a recovered checkout has ``completed_at``)."""
    spec = fields(key, value, {"inLastDays"})
    if "inLastDays" not in spec:
        raise BadUserInput(f"`{key}` takes inLastDays.", field=f"{key}.inLastDays")
    days = whole(f"{key}.inLastDays", spec["inLastDays"], 1, MAX_DAYS)
    k, o = CheckoutFact, OrderFact
    ordered_since = exists().where(
        o.customer_id == k.customer_id,
        o.processed_at > k.created_at,
        o.cancelled.is_(False),
    )
    return exists().where(
        k.customer_id == C.id,
        k.completed_at.is_(None),
        k.created_at >= now - timedelta(days=days),
        k.created_at <= now,
        ~ordered_since,
    )


def viewed_product(key: str, value: object, now: datetime) -> ColumnElement[bool]:
    """A ``Product Viewed`` event of the Segment-compatible ingest (of a SKU,
    of a category, any), in the last ``inLastDays`` days or ever."""
    spec = fields(key, value, {"sku", "category", "inLastDays"})
    t = models.TrackedEvent
    terms = [t.customer_id == C.id, t.type == "track", t.name.in_(VIEWED)]
    if "sku" in spec:
        terms.append(t.properties["sku"].as_string() == text(f"{key}.sku", spec["sku"]))
    if "category" in spec:
        category = text(f"{key}.category", spec["category"])
        terms.append(t.properties["category"].as_string() == category)
    terms += _window(key, spec, t.occurred_at, now)
    return exists().where(*terms)


RULES: dict[str, Rule] = {
    "birthday": birthday,
    "purchased": purchased,
    "replenishmentDue": replenishment_due,
    "abandonedCheckout": abandoned_checkout,
    "viewedProduct": viewed_product,
}
INPUT_TYPES = {
    "birthday": "BirthdayRule",
    "purchased": "PurchasedRule",
    "replenishmentDue": "ReplenishmentDueRule",
    "abandonedCheckout": "AbandonedCheckoutRule",
    "viewedProduct": "ViewedProductRule",
}
"""The GraphQL input type of each rule: its fields are schema coordinates
(``BirthdayRule.withinDays``) that ``policy.COMPARED`` may name."""
RELATIVE_KEYS = {"lastDays", "nextDays", "inLastDays", "withinDays", "monthsAhead"}
"""Keys whose value counts from now: a filter holding one is dynamic."""
PRODUCT_RULES = ("purchased", "replenishmentDue", "viewedProduct")


def leaves(spec: object) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` of the tree, through ``and``/``or``/``not``."""
    pending: list[object] = [spec]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, Mapping):
            for key, value in item.items():
                if key in ("and", "or", "not"):
                    pending.append(value)
                elif value is not None:
                    yield key, value


def is_dynamic(spec: object) -> bool:
    """Whether what ``spec`` selects changes with the clock alone."""
    return any(
        isinstance(value, Mapping)
        and any(value.get(k) is not None for k in RELATIVE_KEYS)
        for _, value in leaves(spec)
    )


def product_names(
    spec: object,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The ``(field, sku)`` and ``(field, category)`` pairs the product rules
    name, for ``gateway.insights.catalogue.check_known``."""
    skus, categories = [], []
    for key, value in leaves(spec):
        if key in PRODUCT_RULES and isinstance(value, Mapping):
            if isinstance(value.get("sku"), str):
                skus.append((f"{key}.sku", value["sku"]))
            if isinstance(value.get("category"), str):
                categories.append((f"{key}.category", value["category"]))
    return skus, categories

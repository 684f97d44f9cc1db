"""Who a periodic trigger selects now, and for which occasion — set-wise.

Each trigger is one ``SELECT customer_id, occasion`` over indexed tables,
never a loop over customers: the daily evaluation of a million customers is a
handful of statements (docs/benchmarks.md). The occasion names what the run
is for, so that the same trigger seen again (the next tick, another replica)
finds its run already there (``automation_runs``' unique key):

- ``replenishmentDue``: a product (a SKU, or of a category) runs out from
  now to ``daysAhead`` days; occasion ``<sku>:<run-out day>``.
- ``birthday``: ``daysAhead``, a birthday in that many days or fewer
  (occasion: the birthday's ``<year>``); ``monthAhead`` / ``inBirthdayMonth``
  (0), born in that calendar month, from its 1st (``<year>-<month>``).
- ``checkoutAbandoned``: a checkout left unpaid for ``hours`` (within a week
  of that), no order since; ``checkout:<id>``.
- ``noOrder``: no order for ``days`` days, a last order existing;
  ``since:<last order day>``.
- ``during``: every customer (the conditions narrow it) while now is within
  ``from``–``to``: a campaign on dates; ``during:<from day>``.
- ``segmentEntered`` / ``segmentExited``: the difference between the
  segment's members and the automation's snapshot; ``entered:<day>`` /
  ``exited:<day>``.

Event triggers are opened by their webhook (``gateway.automations.events``):
``orderPlaced`` (``order:<gid>``) and ``ticketRatedBad`` (``ticket:<id>``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    case,
    cast,
    exists,
    extract,
    false,
    literal,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from gateway.automations.definitions import Definition
from gateway.automations.runs import Pairs
from gateway.db import models
from gateway.insights import segment_rules
from gateway.insights.replenishment import replenishment_rows
from gateway.insights.tables import CheckoutFact, CustomerTraits, OrderFact

C = models.Customer
CHECKOUT_LOOKBACK = timedelta(days=7)
"""An abandoned checkout older than its ``hours`` plus this is not followed up
(an automation created today does not write to last year's shoppers)."""


class utc_day(FunctionElement[str]):  # noqa: N801 - reads as SQL
    """A timestamp's UTC calendar day, ``YYYY-MM-DD``."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"to_char(({moment}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"substr({moment}, 1, 10)"


def _text(value: Any) -> ColumnElement[str]:
    return cast(value, String)


def _pairs(customer_id: Any, occasion: Any) -> Pairs:
    return select(customer_id.label("customer_id"), occasion.label("occasion"))


def _replenishment(spec: Any, now: datetime) -> Pairs:
    rows = replenishment_rows(sku=spec.get("sku"), category=spec.get("category"))
    due = rows.c.expected_run_out_at
    ahead = now + timedelta(days=spec["daysAhead"])
    return _pairs(
        rows.c.customer_id, rows.c.sku.concat(":").concat(utc_day(due))
    ).where(due >= now, due <= ahead)


def _birthday(spec: Any, now: datetime) -> Pairs:
    today = now.date()
    if "daysAhead" in spec:
        within = segment_rules.birthday(
            "birthday", {"withinDays": spec["daysAhead"]}, now
        )
        month_day = extract("month", C.birth_date) * 100 + extract("day", C.birth_date)
        this_year = month_day >= today.month * 100 + today.day
        year = case((this_year, today.year), else_=today.year + 1)
        return _pairs(C.id, _text(year)).where(within, models.not_merged(C.id))
    ahead = spec.get("monthAhead", 0)
    month = (today.month - 1 + ahead) % 12 + 1
    year = today.year + (today.month - 1 + ahead) // 12
    return _pairs(C.id, literal(f"{year}-{month:02d}")).where(
        C.birth_date.is_not(None),
        extract("month", C.birth_date) == month,
        models.not_merged(C.id),
    )


def _checkout(spec: Any, now: datetime) -> Pairs:
    k, o = CheckoutFact, OrderFact
    left = now - timedelta(hours=spec["hours"])
    ordered_since = exists().where(
        o.customer_id == k.customer_id,
        o.processed_at > k.created_at,
        o.cancelled.is_(False),
    )
    return _pairs(k.customer_id, literal("checkout:").concat(k.checkout_id)).where(
        k.completed_at.is_(None),
        k.created_at <= left,
        k.created_at >= left - CHECKOUT_LOOKBACK,
        ~ordered_since,
    )


def _no_order(spec: Any, now: datetime) -> Pairs:
    t = CustomerTraits
    return _pairs(
        t.customer_id, literal("since:").concat(utc_day(t.last_order_at))
    ).where(
        t.last_order_at.is_not(None),
        t.last_order_at <= now - timedelta(days=spec["days"]),
    )


def _during(spec: Any, now: datetime) -> Pairs:
    start, end = (datetime.fromisoformat(spec[end]) for end in ("from", "to"))
    occasion = f"during:{start.astimezone(UTC).date().isoformat()}"
    return _pairs(C.id, literal(occasion)).where(
        true() if start <= now <= end else false(), models.not_merged(C.id)
    )


PERIODIC = {
    "replenishmentDue": _replenishment,
    "birthday": _birthday,
    "checkoutAbandoned": _checkout,
    "noOrder": _no_order,
    "during": _during,
}
SEGMENT = ("segmentEntered", "segmentExited")


def selected(definition: Definition, now: datetime) -> Pairs:
    """``(customer_id, occasion)`` of a periodic, non-segment trigger."""
    return PERIODIC[definition.trigger_kind](definition.trigger, now)


def limited_to(query: Pairs, customer_id: int) -> Pairs:
    """``query`` (a trigger's selection) for one customer: a dry run."""
    picked = query.subquery("picked")
    return select(picked).where(picked.c.customer_id == customer_id)

"""The relative and historical segment rules (birthday, purchased,
replenishmentDue, abandonedCheckout, viewedProduct), each against a small
world in which we know who should match; bad input refused naming the field
with nothing saved; a preview's statements counted, however many rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from gateway.db import models
from gateway.insights.refresh import refresh_all
from gateway.insights.segments import preview
from gateway.insights.tables import CheckoutFact, Segment
from gateway.runtime.services import Services
from tests.conftest import GraphQL, StatementCounter
from tests.integration.insights.facts import (
    NOW,
    add_customer,
    add_orders,
    days_ago,
    order,
)

COAT, SCARF, CREAM = "NW-101", "NW-202", "NW-301"


async def matches(db: Services, spec: dict[str, Any], now: datetime = NOW) -> set[str]:
    async with db.sessions() as session:
        count, page = await preview(session, spec, now, 100, None)
    emails = {c.email.split("@")[0] for c in page.items}
    assert count == len(emails)
    return emails


async def born(db: Services, **people: date) -> None:
    for name, birth in people.items():
        await add_customer(db, f"{name}@example.com", birth=birth)


@pytest.mark.parametrize(
    ("now", "rule", "expected"),
    [
        (NOW, {"withinDays": 7}, {"today", "in7"}),  # 1 June 2025
        (NOW, {"withinDays": 0}, {"today"}),
        (NOW, {"monthsAhead": 1}, {"july"}),
        (NOW, {"monthsAhead": 0}, {"today", "in7", "in9"}),
        (NOW, {"withinDays": 30, "monthsAhead": 0}, {"today", "in7", "in9"}),
        (datetime(2025, 12, 28, tzinfo=UTC), {"withinDays": 7}, {"newyear"}),
        (datetime(2025, 12, 28, tzinfo=UTC), {"monthsAhead": 1}, {"newyear"}),
        (datetime(2025, 2, 25, tzinfo=UTC), {"withinDays": 3}, {"leapling"}),
        (datetime(2024, 2, 25, tzinfo=UTC), {"withinDays": 3}, set()),
        (datetime(2024, 2, 25, tzinfo=UTC), {"withinDays": 4}, {"leapling"}),
        (
            NOW,
            {"withinDays": 365},
            {"today", "in7", "in9", "july", "newyear", "leapling"},
        ),
    ],
)
async def test_a_birthday_coming_up_counts_from_the_day_it_is_read(
    db: Services, now: datetime, rule: dict[str, int], expected: set[str]
) -> None:
    await born(
        db,
        today=date(1990, 6, 1),
        in7=date(1985, 6, 8),
        in9=date(1985, 6, 10),
        july=date(2000, 7, 15),
        newyear=date(1970, 1, 2),
        leapling=date(1992, 2, 29),
    )
    await add_customer(db, "unknown@example.com")
    assert await matches(db, {"birthday": rule}, now) == expected


async def purchases(db: Services) -> None:
    """A coat buyer of October 2024 and of May 2025, a buyer of two scarves,
    a cancelled coat."""
    october = await add_customer(db, "october@example.com")
    await add_orders(
        db,
        october,
        order(datetime(2024, 10, 12, tzinfo=UTC), [("Outerwear", 1, "289", COAT)]),
    )
    may = await add_customer(db, "may@example.com")
    await add_orders(db, may, order(days_ago(20), [("Outerwear", 1, "289", COAT)]))
    scarves = await add_customer(db, "scarves@example.com")
    await add_orders(
        db,
        scarves,
        order(days_ago(50), [("Accessories", 1, "79", SCARF)]),
        order(days_ago(5), [("Accessories", 1, "79", SCARF), ("Accessories", 1, "32")]),
    )
    cancelled = await add_customer(db, "cancelled@example.com")
    await add_orders(
        db,
        cancelled,
        order(days_ago(3), [("Outerwear", 1, "289", COAT)], cancelled=True),
    )


OCTOBER = {"from": "2024-10-01T00:00:00+00:00", "to": "2024-10-31T23:59:59+00:00"}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"category": "Outerwear"}, {"october", "may"}),
        ({"category": "Outerwear", "between": OCTOBER}, {"october"}),
        ({"sku": COAT, "inLastDays": 30}, {"may"}),
        ({"sku": COAT, "category": "Accessories"}, set()),
        ({"sku": SCARF, "category": "Accessories"}, {"scarves"}),
        ({"sku": SCARF, "minQuantity": 2}, {"scarves"}),
        ({"sku": SCARF, "minQuantity": 2, "inLastDays": 30}, set()),
        ({"category": "Accessories", "minQuantity": 3}, {"scarves"}),
        ({"inLastDays": 10}, {"scarves"}),
        ({}, {"october", "may", "scarves"}),
    ],
)
async def test_purchased_counts_units_bought_in_the_window(
    db: Services, rule: dict[str, Any], expected: set[str]
) -> None:
    await purchases(db)
    await refresh_all(db.sessions, db.settings, NOW)
    assert await matches(db, {"purchased": rule}) == expected
    everyone = {"october", "may", "scarves", "cancelled"}
    assert await matches(db, {"not": {"purchased": rule}}) == everyone - expected


async def test_coat_buyers_of_october_are_shown_accessories_in_december(
    db: Services,
) -> None:
    await purchases(db)
    spec = {
        "purchased": {"category": "Outerwear", "between": OCTOBER},
        "not": {"purchased": {"category": "Accessories"}},
    }
    assert await matches(db, spec) == {"october"}


async def test_an_abandoned_checkout_counts_until_the_customer_orders(
    db: Services,
) -> None:
    ids = {
        name: await add_customer(db, f"{name}@example.com")
        for name in ("left", "recovered", "ordered", "old")
    }
    checkouts = [
        ("left", days_ago(2), None),
        ("recovered", days_ago(2), days_ago(1.5)),
        ("ordered", days_ago(3), None),
        ("old", days_ago(20), None),
    ]
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert(CheckoutFact),
            [
                {
                    "checkout_id": f"gid://shopify/AbandonedCheckout/{n}",
                    "customer_id": ids[who],
                    "created_at": created,
                    "completed_at": completed,
                }
                for n, (who, created, completed) in enumerate(checkouts)
            ],
        )
    await add_orders(db, ids["ordered"], order(days_ago(1), [("Grocery", 1, "18")]))
    await add_orders(db, ids["left"], order(days_ago(9), [("Grocery", 1, "18")]))
    assert await matches(db, {"abandonedCheckout": {"inLastDays": 7}}) == {"left"}
    assert await matches(db, {"abandonedCheckout": {"inLastDays": 30}}) == {
        "left",
        "old",
    }


async def test_viewed_product_reads_the_ingested_product_viewed_events(
    db: Services,
) -> None:
    ids = {
        name: await add_customer(db, f"{name}@example.com")
        for name in ("viewer", "v1", "old", "other")
    }
    buyer = await add_customer(db, "buyer@example.com")  # the catalogue knows it
    await add_orders(db, buyer, order(days_ago(3), [("Skincare", 1, "54", CREAM)]))
    views = [
        ("viewer", "Product Viewed", {"sku": CREAM, "category": "Skincare"}, 2),
        ("v1", "Viewed Product", {"sku": CREAM}, 3),  # the e-commerce v1 name
        ("old", "Product Viewed", {"sku": CREAM, "category": "Skincare"}, 60),
        ("other", "Product Added", {"sku": CREAM, "category": "Skincare"}, 1),
    ]
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert(models.TrackedEvent),
            [
                {
                    "message_id": f"m{n}",
                    "customer_id": ids[who],
                    "type": "track",
                    "name": name,
                    "properties": properties,
                    "context": {},
                    "occurred_at": days_ago(ago),
                }
                for n, (who, name, properties, ago) in enumerate(views)
            ],
        )
    assert await matches(db, {"viewedProduct": {"sku": CREAM, "inLastDays": 7}}) == {
        "viewer",
        "v1",
    }
    assert await matches(db, {"viewedProduct": {"category": "Skincare"}}) == {
        "viewer",
        "old",
    }


CREATE = """mutation($f: SegmentFilter!) { createSegment(name: "bad", filter: $f)
  { name } }"""
PREVIEW = "query($f: SegmentFilter!) { segmentPreview(filter: $f) { totalCount } }"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            {"replenishmentDue": {"sku": "NW-999", "withinDays": 7}},
            "replenishmentDue.sku",
        ),
        (
            {"purchased": {"category": "Snacks"}},
            "purchased.category",
        ),
        (
            {"or": [{"tagsAny": ["x"]}, {"viewedProduct": {"sku": "nope"}}]},
            "viewedProduct.sku",
        ),
        (
            {"replenishmentDue": {"category": "Skincare", "withinDays": 366}},
            "replenishmentDue.withinDays",
        ),
        (
            {"replenishmentDue": {"sku": CREAM, "withinDays": -1}},
            "replenishmentDue.withinDays",
        ),
        ({"birthday": {"withinDays": 400}}, "birthday.withinDays"),
        ({"birthday": {"monthsAhead": 12}}, "birthday.monthsAhead"),
        ({"birthday": {}}, "birthday"),
        (
            {
                "purchased": {
                    "sku": CREAM,
                    "between": {
                        "from": "2025-05-01T00:00:00Z",
                        "to": "2025-04-01T00:00:00Z",
                    },
                }
            },
            "purchased.between",
        ),
        ({"purchased": {"sku": CREAM, "minQuantity": 0}}, "purchased.minQuantity"),
        ({"abandonedCheckout": {"inLastDays": 0}}, "abandonedCheckout.inLastDays"),
        ({"viewedProduct": {"inLastDays": 40_000}}, "viewedProduct.inLastDays"),
    ],
)
async def test_bad_rule_input_is_refused_naming_the_field_and_nothing_is_saved(
    gql: GraphQL, db: Services, spec: dict[str, Any], field: str
) -> None:
    cid = await add_customer(db, "cream@example.com")
    await add_orders(db, cid, order(days_ago(3), [("Skincare", 1, "54", CREAM)]))
    for document in (CREATE, PREVIEW):
        answer = await gql(document, {"f": spec})
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", answer
        assert error["extensions"]["field"] == field
        assert answer["data"] is None
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Segment)) == 0
        events = select(func.count()).select_from(models.CustomerEvent)
        assert await session.scalar(events) == 0


EVERY_RULE = {
    "birthday": {"withinDays": 30},
    "purchased": {"sku": CREAM, "inLastDays": 90, "minQuantity": 2},
    "replenishmentDue": {"category": "Skincare", "withinDays": 14},
    "abandonedCheckout": {"inLastDays": 7},
    "viewedProduct": {"sku": CREAM, "category": "Skincare", "inLastDays": 30},
    "or": [{"purchased": {"category": "Skincare"}}, {"tagsAny": ["vip"]}],
}


@pytest.mark.parametrize("customers", [3, 30])
async def test_a_preview_is_three_statements_whatever_the_rules_or_the_size(
    gql: GraphQL, db: Services, sql: StatementCounter, customers: int
) -> None:
    for k in range(customers):
        cid = await add_customer(db, f"c{k}@example.com", birth=date(1990, 6, 10))
        await add_orders(
            db, cid, order(days_ago(80 + k), [("Skincare", 2, "108", CREAM)])
        )
    await refresh_all(db.sessions, db.settings, NOW)
    sql.reset()
    answer = await gql(
        "query($f: SegmentFilter!) { segmentPreview(filter: $f, first: 100) {"
        " totalCount edges { node { email } } } }",
        {"f": EVERY_RULE},
    )
    assert "errors" not in answer, answer
    # Without pool pings and the audit log's batches, which a timer writes
    # whenever it fires (a loaded machine fired it inside this request).
    reads = [
        s
        for s in sql.statements
        if "audit_log" not in s and not s.lstrip().upper().startswith("SELECT 1")
    ]
    # known names (one statement for both the SKU and the category), count, page
    assert len(reads) == 3, [" ".join(s.split())[:120] for s in reads]


def test_days_ago_is_relative_to_the_fixed_now() -> None:
    assert days_ago(1) == NOW - timedelta(days=1)

"""Per-product replenishment: intervals learned from repeat purchases, the
rules that choose one (product, then category; set, then learned), dates
scaled by units, the operator's intervals through the API, an order webhook's
dates, and the face-cream campaign of issue 17 with exactly its data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.insights.product_tables import Product
from gateway.insights.refresh import record_orders, refresh_all
from gateway.insights.replenishment import Replenishment, replenishment_of
from gateway.insights.segments import preview
from gateway.insights.tables import CategoryReplenishment
from gateway.runtime.services import Services
from tests.conftest import GraphQL, StatementCounter
from tests.integration.insights.facts import (
    NOW,
    add_customer,
    add_orders,
    days_ago,
    order,
)

CREAM, SERUM, SHOES = "NW-301", "NW-302", "NW-501"


def cream(days: float, units: int = 1) -> Any:
    return order(days_ago(days), [("Skincare", units, "54.00", CREAM)])


async def regulars(db: Services, n: int = 3, every: float = 90) -> list[int]:
    """``n`` customers who rebuy the cream every ``every`` days, the last time
    100 days ago (their jar ran out ten days ago): two repeats each."""
    ids = []
    for k in range(n):
        cid = await add_customer(db, f"regular{k}@example.com")
        await add_orders(db, cid, *(cream(100 + every * j) for j in range(3)))
        ids.append(cid)
    return ids


async def rows(db: Services, customer_id: int) -> dict[str, Replenishment]:
    async with db.sessions() as session:
        return {row.sku: row for row in await replenishment_of(session, [customer_id])}


async def test_the_face_cream_runs_out_next_week_and_the_shoe_habit_is_not_due(
    db: Services,
) -> None:
    await regulars(db)
    buyer = await add_customer(db, "cream@example.com")
    await add_orders(db, buyer, cream(83))
    walker = await add_customer(db, "shoes@example.com")
    await add_orders(
        db,
        walker,
        cream(42),
        *(
            order(days_ago(15 + 26 * k), [("Footwear", 1, "139.00", SHOES)])
            for k in range(5)
        ),
    )
    await refresh_all(db.sessions, db.settings, NOW)

    due = await rows(db, buyer)
    assert due[CREAM].basis == "product_history"
    assert due[CREAM].days_per_unit == pytest.approx(90)
    assert due[CREAM].expected_run_out_at == NOW + timedelta(days=7)
    assert due[CREAM].confidence == pytest.approx(6 / 9)
    walking = await rows(db, walker)
    assert walking[CREAM].expected_run_out_at == NOW + timedelta(days=48)
    assert walking[SHOES].days_per_unit == pytest.approx(26)

    names = {buyer: "cream", walker: "shoes"}
    campaigns = {
        "by SKU": {"replenishmentDue": {"sku": CREAM, "withinDays": 14}},
        "by category": {"replenishmentDue": {"category": "Skincare", "withinDays": 14}},
        "per customer (before)": {
            "categoriesAny": ["Skincare"],
            "predictedNextOrderAt": {"nextDays": 14},
        },
    }
    found = {}
    async with db.sessions() as session:
        for label, spec in campaigns.items():
            _, page = await preview(session, spec, NOW, 100, None)
            found[label] = {names.get(c.id, "other") for c in page.items}
    assert found == {
        "by SKU": {"cream"},
        "by category": {"cream"},
        "per customer (before)": {"cream", "shoes"},
    }


async def test_each_rule_in_turn_product_then_category_set_then_learned(
    db: Services,
) -> None:
    await regulars(db)  # the cream is learned: 90 days, 6 repeats
    serum_fans = []
    for k in range(2):  # the serum alone has 2 repeats: too few
        cid = await add_customer(db, f"serum{k}@example.com")
        await add_orders(
            db,
            cid,
            order(days_ago(70), [("Skincare", 1, "38.50", SERUM)]),
            order(days_ago(10), [("Skincare", 1, "38.50", SERUM)]),
        )
        serum_fans.append(cid)
    await refresh_all(db.sessions, db.settings, NOW)
    serum = (await rows(db, serum_fans[0]))[SERUM]
    assert (serum.basis, serum.days_per_unit) == ("category_override", 90)
    assert serum.confidence == pytest.approx(0.5)

    async with db.sessions() as session, session.begin():
        await session.execute(
            CategoryReplenishment.__table__.delete().where(
                CategoryReplenishment.category == "Skincare"
            )
        )
    await refresh_all(db.sessions, db.settings, NOW)
    serum = (await rows(db, serum_fans[0]))[SERUM]
    # Skincare's repeats: the cream's six of 90 and the serum's two of 60.
    assert (serum.basis, serum.days_per_unit) == ("category_history", 90)
    assert serum.confidence == pytest.approx(8 / 11 / 2)

    async with db.sessions() as session, session.begin():
        product = await session.get(Product, SERUM)
        assert product is not None
        product.override_days = 45
    await refresh_all(db.sessions, db.settings, NOW)
    serum = (await rows(db, serum_fans[0]))[SERUM]
    assert (serum.basis, serum.days_per_unit, serum.confidence) == (
        "product_override",
        45,
        1.0,
    )
    assert serum.expected_run_out_at == days_ago(10) + timedelta(days=45)


async def test_units_scale_the_interval_and_a_same_day_reorder_is_no_repeat(
    db: Services,
) -> None:
    cid = await add_customer(db, "bulk@example.com")
    await add_orders(
        db,
        cid,
        cream(400, units=2),  # two jars last 180 days: 90 a jar
        cream(220, units=1),
        cream(219.9),  # same day: one restock, not a 0.1-day repeat
        cream(130, units=3),
        cream(40, units=3),
    )
    await refresh_all(db.sessions, db.settings, NOW)
    mine = (await rows(db, cid))[CREAM]
    # repeats per unit: 180/2, 0.1 skipped, 89.9/1, 90/3 -> 90, 89.9, 30
    assert mine.basis == "product_history"
    assert mine.days_per_unit == pytest.approx(89.9)
    assert mine.quantity == 3
    assert mine.expected_run_out_at == days_ago(40) + timedelta(days=3 * 89.9)


async def test_a_product_nothing_applies_to_has_no_date(db: Services) -> None:
    cid = await add_customer(db, "chair@example.com")
    await add_orders(
        db, cid, order(days_ago(5), [("Furniture", 1, "949.00", "NW-402")])
    )
    await refresh_all(db.sessions, db.settings, NOW)
    chair = (await rows(db, cid))["NW-402"]
    assert chair.basis == "none"
    assert chair.expected_run_out_at is None
    assert chair.days_per_unit is None
    assert chair.confidence is None


async def test_an_order_recorded_by_a_webhook_moves_only_that_customers_date(
    db: Services,
) -> None:
    await regulars(db)
    buyer = await add_customer(db, "cream@example.com")
    await add_orders(db, buyer, cream(83))
    await refresh_all(db.sessions, db.settings, NOW)
    before = {k: v.expected_run_out_at for k, v in (await rows(db, 1)).items()}
    async with db.sessions() as session, session.begin():
        await record_orders(session, buyer, [cream(1, units=2)], NOW)
    assert (await rows(db, buyer))[CREAM].expected_run_out_at == days_ago(1) + (
        timedelta(days=180)
    )
    assert {k: v.expected_run_out_at for k, v in (await rows(db, 1)).items()} == (
        before
    )


REPLENISHMENT = """query($id: ID!) { customer(id: $id) { replenishment {
  product { sku title category overrideDays } lastPurchasedAt quantity
  daysPerUnit expectedRunOutAt confidence basis } } }"""


async def test_customer_replenishment_through_the_api(
    gql: GraphQL, db: Services
) -> None:
    await regulars(db)
    cid = await add_customer(db, "cream@example.com")
    await add_orders(
        db,
        cid,
        cream(83),
        order(days_ago(2), [("Furniture", 1, "949.00", "NW-402")]),
    )
    await refresh_all(db.sessions, db.settings, NOW)
    gid = await _gid(gql, "cream@example.com")
    answer = await gql(REPLENISHMENT, {"id": gid})
    assert "errors" not in answer, answer
    listed = answer["data"]["customer"]["replenishment"]
    assert [(r["product"]["sku"], r["basis"]) for r in listed] == [
        (CREAM, "PRODUCT_HISTORY"),
        ("NW-402", "NONE"),
    ]
    assert listed[0]["product"] == {
        "sku": CREAM,
        "title": f"Skincare {CREAM}",
        "category": "Skincare",
        "overrideDays": None,
    }
    assert listed[0]["expectedRunOutAt"].startswith(
        (NOW + timedelta(days=7)).date().isoformat()
    )
    assert listed[1]["expectedRunOutAt"] is None


async def _gid(gql: GraphQL, email: str) -> str:
    found = await gql("query($e: String!) { customer(email: $e) { id } }", {"e": email})
    gid: str = found["data"]["customer"]["id"]
    return gid


SET_PRODUCT = """mutation($s: String!, $d: Int) { setProductReplenishment(sku: $s,
  days: $d) { sku overrideDays } }"""
SET_CATEGORY = """mutation($c: String!, $d: Int) { setCategoryReplenishment(
  category: $c, days: $d) { category days } }"""


async def test_an_interval_set_through_the_api_moves_the_dates_at_once(
    gql: GraphQL, db: Services
) -> None:
    cid = await add_customer(db, "cream@example.com")
    await add_orders(db, cid, cream(30, units=2))
    await refresh_all(db.sessions, db.settings, NOW)
    assert (await rows(db, cid))[CREAM].expected_run_out_at == days_ago(30) + (
        timedelta(days=180)
    )  # Skincare's 90 days a unit

    answer = await gql(SET_PRODUCT, {"s": CREAM, "d": 60})
    assert answer["data"]["setProductReplenishment"] == {
        "sku": CREAM,
        "overrideDays": 60,
    }
    mine = (await rows(db, cid))[CREAM]
    assert (mine.basis, mine.expected_run_out_at) == (
        "product_override",
        days_ago(30) + timedelta(days=120),
    )

    await gql(SET_PRODUCT, {"s": CREAM, "d": None})
    answer = await gql(SET_CATEGORY, {"c": "Skincare", "d": 20})
    assert answer["data"]["setCategoryReplenishment"] == {
        "category": "Skincare",
        "days": 20,
    }
    mine = (await rows(db, cid))[CREAM]
    assert (mine.basis, mine.days_per_unit) == ("category_override", 20)

    await gql(SET_CATEGORY, {"c": "Skincare", "d": None})
    mine = (await rows(db, cid))[CREAM]
    assert (mine.basis, mine.expected_run_out_at) == ("none", None)


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (SET_PRODUCT, {"s": "NW-999", "d": 30}, "sku"),
        (SET_PRODUCT, {"s": CREAM, "d": 0}, "days"),
        (SET_PRODUCT, {"s": CREAM, "d": 3651}, "days"),
        (SET_CATEGORY, {"c": "Snacks", "d": 30}, "category"),
        (SET_CATEGORY, {"c": "Skincare", "d": -1}, "days"),
    ],
    ids=["unknown-sku", "zero-days", "too-many-days", "unknown-category", "negative"],
)
async def test_a_bad_interval_is_refused_naming_the_field_and_nothing_changes(
    gql: GraphQL, db: Services, document: str, variables: dict[str, Any], field: str
) -> None:
    cid = await add_customer(db, "cream@example.com")
    await add_orders(db, cid, cream(30))
    await refresh_all(db.sessions, db.settings, NOW)
    before = await rows(db, cid)
    answer = await gql(document, variables)
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    async with db.sessions() as session:
        assert await session.scalar(select(func.max(Product.override_days))) is None
        configured = await session.scalars(select(CategoryReplenishment.days))
        assert sorted(configured) == [30, 90]
    assert await rows(db, cid) == before


PAGE = """{ customers(first: 50) { edges { node { email replenishment {
  product { sku title } expectedRunOutAt basis } } } } }"""


@pytest.mark.parametrize("size", [2, 12])
async def test_a_page_of_customers_reads_replenishment_in_one_statement(
    gql: GraphQL, db: Services, sql: StatementCounter, size: int
) -> None:
    for k in range(size):
        cid = await add_customer(db, f"c{k}@example.com")
        await add_orders(db, cid, cream(10 + k), cream(100 + k))
    await refresh_all(db.sessions, db.settings, NOW)
    without = "{ customers(first: 50) { edges { node { email } } } }"
    sql.reset()
    assert "errors" not in await gql(without)
    base = sql.answering
    await db.audit.flush()  # its timer may write while the next query runs
    sql.reset()
    answer = await gql(PAGE)
    assert "errors" not in answer, answer
    edges = answer["data"]["customers"]["edges"]
    assert len(edges) == size
    assert all(e["node"]["replenishment"][0]["product"]["sku"] == CREAM for e in edges)
    replenishment = [s for s in sql.statements if "order_item_facts" in s]
    assert len(replenishment) == 1
    assert sql.answering == base + 1, sql.statements

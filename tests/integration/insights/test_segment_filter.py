"""Each filter operator, compiled to one SQL query, on both databases."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.errors import BadUserInput
from gateway.insights.refresh import refresh_all
from gateway.insights.segments import preview
from gateway.runtime.services import Services
from tests.integration.insights.facts import (
    NOW,
    add_customer,
    add_engagement,
    add_orders,
    days_ago,
    order,
    rfm_world,
)


@pytest.fixture
async def people(db: Services) -> dict[str, int]:
    """Three shoppers and one who never ordered, with hand-picked traits."""
    ids = {
        "ann": await add_customer(
            db, "ann@example.com", birth=date(1990, 11, 3), tags=("vip",),
            city="Portland", region="OR", email_consent="granted",
        ),
        "bob": await add_customer(
            db, "bob@example.com", birth=date(1985, 2, 9), tags=("vip", "b2b"),
            city="Berlin", region="BE", country="DE", email_consent="denied",
        ),
        "cat": await add_customer(
            db, "cat@example.com", city="Portland", region="ME",
            sms_consent="granted",
        ),
        "dan": await add_customer(db, "dan@example.com"),
    }  # fmt: skip
    await add_orders(
        db,
        ids["ann"],
        order(days_ago(100), [("Skincare", 1, "54.00")]),
        order(days_ago(10), [("Skincare", 2, "108.00")], returned=True),
    )
    await add_orders(db, ids["bob"], order(days_ago(5), [("Furniture", 1, "1899.00")]))
    await add_orders(db, ids["cat"], order(days_ago(400), [("Grocery", 3, "54.00")]))
    await add_engagement(db, ids["bob"], open_tickets=2, tickets=2, bad=2)
    await add_engagement(db, ids["cat"], tickets=1, good=1, last_seen=days_ago(2))
    await refresh_all(db.sessions, db.settings, NOW)
    return ids


async def matching(db: Services, spec: dict, people: dict[str, int]) -> set[str]:
    names = {v: k for k, v in people.items()}
    async with db.sessions() as session:
        count, page = await preview(session, spec, NOW, 100, None)
    found = {names[c.id] for c in page.items}
    assert count == len(found)
    return found


CASES = [
    ({"lifetimeValue": {"gte": 100}}, {"ann", "bob"}),
    ({"lifetimeValue": {"lte": 100}}, {"cat", "dan"}),
    ({"orderCount": {"gte": 2}}, {"ann"}),
    ({"averageOrderValue": {"gte": 80, "lte": 100}}, {"ann"}),
    ({"averageDaysBetweenOrders": {"gte": 89, "lte": 91}}, {"ann"}),
    ({"returnRate": {"gte": 0.5}}, {"ann"}),
    ({"satisfaction": {"lte": 0.5}}, {"bob"}),
    ({"openTickets": {"gte": 1}}, {"bob"}),
    ({"ticketCount": {"gte": 1}}, {"bob", "cat"}),
    ({"lastOrderAt": {"lastDays": 30}}, {"ann", "bob"}),
    ({"firstOrderAt": {"before": days_ago(50).isoformat()}}, {"ann", "cat"}),
    ({"lastOrderAt": {"after": days_ago(7).isoformat()}}, {"bob"}),
    ({"predictedNextOrderAt": {"nextDays": 90}}, {"ann"}),
    ({"lastSeenAt": {"lastDays": 7}}, {"cat"}),
    ({"tagsAny": ["b2b", "none"]}, {"bob"}),
    ({"tagsAll": ["vip", "b2b"]}, {"bob"}),
    ({"categoriesAny": ["Skincare", "Grocery"]}, {"ann", "cat"}),
    ({"categoriesAll": ["Skincare", "Grocery"]}, set()),
    ({"favouriteCategory": "Furniture"}, {"bob"}),
    ({"favouriteCategoryBySpend": "Skincare"}, {"ann"}),
    ({"consent": {"channel": "email", "state": "granted"}}, {"ann"}),
    ({"consent": {"channel": "email"}}, {"ann", "bob"}),
    ({"country": "de"}, {"bob"}),
    ({"region": "OR"}, {"ann"}),
    ({"city": "Portland"}, {"ann", "cat"}),
    ({"birthMonth": 11}, {"ann"}),
    ({"city": "Portland", "region": "ME"}, {"cat"}),
    ({"or": [{"city": "Berlin"}, {"orderCount": {"gte": 2}}]}, {"ann", "bob"}),
    ({"and": [{"tagsAny": ["vip"]}, {"city": "Portland"}]}, {"ann"}),
    ({"not": {"tagsAny": ["vip"]}}, {"cat", "dan"}),
    ({"not": {"satisfaction": {"gte": 0.5}}}, {"ann", "bob", "dan"}),
    ({}, {"ann", "bob", "cat", "dan"}),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[str(c[0]) for c in CASES])
async def test_each_operator_selects_the_expected_customers(
    db: Services, people: dict[str, int], spec: dict, expected: set[str]
) -> None:
    assert await matching(db, spec, people) == expected


async def test_rfm_segment_condition(db: Services) -> None:
    ids = await rfm_world(db)
    await refresh_all(db.sessions, db.settings, NOW)
    async with db.sessions() as session:
        count, page = await preview(
            session, {"rfmSegmentIn": ["New Customers", "Promising"]}, NOW, 10, None
        )
    assert count == 2
    assert [c.id for c in page.items] == [ids[0], ids[9]]


@pytest.mark.parametrize(
    "spec",
    [
        {"shoeSize": 42},
        {"lifetimeValue": {"gt": 1}},
        {"lifetimeValue": {"gte": "lots"}},
        {"rfmSegmentIn": ["Whales"]},
        {"or": []},
        {"lastOrderAt": {"after": "2025-01-01T00:00:00"}},
        {"consent": {"channel": "fax"}},
    ],
)
async def test_malformed_filters_are_bad_user_input(db: Services, spec: dict) -> None:
    async with db.sessions() as session:
        with pytest.raises(BadUserInput):
            await preview(session, spec, NOW, 10, None)

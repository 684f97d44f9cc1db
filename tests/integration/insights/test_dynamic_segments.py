"""Saved segments over time: a dynamic segment's members follow the clock
without being saved again (read with a moved clock, no refresh between),
exports included; a static one is read as stored. ``updateSegment`` and
``deleteSegment``: membership diffed with events, renames, conflicts, and
nothing changed when refused."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.insights import export as export_module
from gateway.insights.refresh import refresh_all
from gateway.insights.tables import Segment, SegmentMember, SegmentMembershipEvent
from gateway.runtime.services import Services
from tests.conftest import GraphQL, StatementCounter
from tests.integration.insights.facts import (
    NOW,
    add_customer,
    add_orders,
    days_ago,
    order,
)

CREAM = "NW-301"
MEMBERS = """query($n: String!) { segment(name: $n) { dynamic
  members(first: 100) { totalCount edges { node { email } } } } }"""
CREATE = """mutation($n: String!, $f: SegmentFilter!) { createSegment(name: $n,
  filter: $f) { name dynamic } }"""


class Clock:
    """The time the resolvers and the export read, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self.now = now
        monkeypatch.setattr("gateway.resolvers.insights.utcnow", lambda: self.now)
        monkeypatch.setattr(export_module, "utcnow", lambda: self.now)

    def move(self, days: float) -> None:
        self.now += timedelta(days=days)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch, NOW)


async def emails(gql: GraphQL, name: str) -> set[str]:
    answer = await gql(MEMBERS, {"n": name})
    assert "errors" not in answer, answer
    found = answer["data"]["segment"]["members"]
    names = {e["node"]["email"].split("@")[0] for e in found["edges"]}
    assert found["totalCount"] == len(names)
    return names


async def creams(db: Services) -> None:
    """Two customers whose cream (Skincare: 90 days a jar) runs out in 10 and
    in 40 days."""
    for name, bought in (("soon", 80), ("later", 50)):
        cid = await add_customer(db, f"{name}@example.com")
        await add_orders(
            db, cid, order(days_ago(bought), [("Skincare", 1, "54", CREAM)])
        )
    await refresh_all(db.sessions, db.settings, NOW)


async def test_a_dynamic_segment_follows_the_clock_without_a_refresh(
    gql: GraphQL, db: Services, clock: Clock
) -> None:
    await creams(db)
    created = await gql(
        CREATE,
        {"n": "Cream due", "f": {"replenishmentDue": {"sku": CREAM, "withinDays": 14}}},
    )
    assert created["data"]["createSegment"] == {"name": "Cream due", "dynamic": True}
    assert await emails(gql, "Cream due") == {"soon"}
    clock.move(20)  # soon ran out ten days ago; later runs out in twenty
    assert await emails(gql, "Cream due") == set()
    clock.move(10)
    assert await emails(gql, "Cream due") == {"later"}
    async with db.sessions() as session:  # the stored membership waits
        stored = await session.scalars(select(SegmentMember.customer_id))
        assert len(list(stored)) == 1


async def test_a_birthday_segment_moves_with_the_calendar(
    gql: GraphQL, db: Services, clock: Clock
) -> None:
    await add_customer(db, "june@example.com", birth=date(1990, 6, 20))
    await add_customer(db, "july@example.com", birth=date(1990, 7, 20))
    await gql(CREATE, {"n": "Next month", "f": {"birthday": {"monthsAhead": 1}}})
    assert await emails(gql, "Next month") == {"july"}  # read on 1 June
    clock.move(30)
    assert await emails(gql, "Next month") == set()  # 1 July: August is next
    clock.move(-61)
    assert await emails(gql, "Next month") == {"june"}  # 1 May


async def test_an_export_of_a_dynamic_segment_is_evaluated_when_it_starts(
    client: Any, gql: GraphQL, db: Services, clock: Clock
) -> None:
    await creams(db)
    await gql(
        CREATE,
        {"n": "Cream due", "f": {"replenishmentDue": {"sku": CREAM, "withinDays": 14}}},
    )
    clock.move(30)
    response = await client.get("/segments/Cream%20due/export?format=jsonl")
    assert response.status_code == 200, response.text
    assert '"email":"later@example.com"' in response.text
    assert "soon@example.com" not in response.text


async def test_a_static_segment_is_read_as_stored(
    gql: GraphQL, db: Services, clock: Clock, sql: StatementCounter
) -> None:
    await creams(db)
    created = await gql(
        CREATE, {"n": "Cream buyers", "f": {"purchased": {"sku": CREAM}}}
    )
    assert created["data"]["createSegment"]["dynamic"] is False
    sql.reset()
    assert await emails(gql, "Cream buyers") == {"soon", "later"}
    assert not [s for s in sql.statements if "order_item_facts" in s]


UPDATE = """mutation($n: String!, $new: String, $f: SegmentFilter) {
  updateSegment(name: $n, newName: $new, filter: $f) { name filter dynamic
  members { totalCount } } }"""
DELETE = "mutation($n: String!) { deleteSegment(name: $n) }"


async def events(db: Services) -> list[tuple[str, bool]]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(
                SegmentMembershipEvent.segment, SegmentMembershipEvent.entered
            ).order_by(SegmentMembershipEvent.id)
        )
        return [(segment, entered) for segment, entered in rows]


async def test_update_renames_and_refilters_recording_who_left_and_entered(
    gql: GraphQL, db: Services, clock: Clock
) -> None:
    await creams(db)
    await gql(CREATE, {"n": "Soon", "f": {"purchased": {"inLastDays": 60}}})
    assert await events(db) == [("Soon", True)]  # later bought 50 days ago
    answer = await gql(
        UPDATE,
        {"n": "Soon", "new": "Earlier", "f": {"purchased": {"sku": CREAM}}},
    )
    assert answer["data"]["updateSegment"] == {
        "name": "Earlier",
        "filter": {"purchased": {"sku": CREAM}},
        "dynamic": False,
        "members": {"totalCount": 2},
    }
    assert await events(db) == [("Soon", True), ("Earlier", True)]
    await gql(
        UPDATE, {"n": "Earlier", "f": {"purchased": {"sku": CREAM, "inLastDays": 60}}}
    )
    assert await events(db) == [("Soon", True), ("Earlier", True), ("Earlier", False)]
    only_name = await gql(UPDATE, {"n": "Earlier", "new": "Later"})
    assert only_name["data"]["updateSegment"]["name"] == "Later"
    assert await emails(gql, "Later") == {"later"}


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"n": "Missing", "new": "X"}, "NOT_FOUND", "name"),
        ({"n": "One", "new": "Two"}, "CONFLICT", "newName"),
        ({"n": "One", "new": "Three", "f": {"purchased": {"sku": "NW-999"}}},
         "BAD_USER_INPUT", "purchased.sku"),
        ({"n": "One", "f": {"birthday": {"withinDays": 366}}},
         "BAD_USER_INPUT", "birthday.withinDays"),
        ({"n": "One", "new": "Bad\u200bname"}, "BAD_USER_INPUT", "newName"),
    ],
    ids=["missing", "taken", "unknown-sku", "out-of-range", "invisible"],
)  # fmt: skip
async def test_a_refused_update_changes_nothing(
    gql: GraphQL,
    db: Services,
    variables: dict[str, Any],
    code: str,
    field: str,
) -> None:
    await creams(db)
    for name in ("One", "Two"):
        await gql(CREATE, {"n": name, "f": {"purchased": {"sku": CREAM}}})
    before = await events(db)
    answer = await gql(UPDATE, variables)
    error = answer["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field)
    async with db.sessions() as session:
        saved = await session.execute(select(Segment.name, Segment.filter))
        assert sorted(saved) == [
            ("One", {"purchased": {"sku": CREAM}}),
            ("Two", {"purchased": {"sku": CREAM}}),
        ]
    assert await events(db) == before


async def test_delete_removes_the_segment_and_its_members_without_exits(
    gql: GraphQL, db: Services
) -> None:
    await creams(db)
    await gql(CREATE, {"n": "Gone", "f": {"purchased": {"sku": CREAM}}})
    answer = await gql(DELETE, {"n": "Gone"})
    assert answer["data"] == {"deleteSegment": "Gone"}
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Segment)) == 0
        members = select(func.count()).select_from(SegmentMember)
        assert await session.scalar(members) == 0
    assert await events(db) == [("Gone", True), ("Gone", True)]
    again = await gql(DELETE, {"n": "Gone"})
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    recreated = await gql(CREATE, {"n": "Gone", "f": {}})
    assert "errors" not in recreated

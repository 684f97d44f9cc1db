"""The campaigns of docs/segments.md, read from the document itself, each run
against a small world in which we know who should be reached."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

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

DOC = Path(__file__).parents[3] / "docs" / "segments.md"
CREAM = "NW-301"
CAMPAIGN = re.compile(r"^### (.+?)\n.*?```json\n(.+?)\n```", re.M | re.S)
CAMPAIGNS = {
    title: orjson.loads(body)
    for title, body in CAMPAIGN.findall(DOC.read_text().split("## Campaigns")[1])
}
EXPECTED = {
    "Birthdays next month, with a code on the favourite category": {"birthday"},
    "Win-back: At Risk and Hibernating": {"rfm17", "rfm16", "rfm22"},
    "Face-cream reorder reminder": {"cream"},
    "Coat buyers of last October: accessories in December": {"coat"},
    "Low satisfaction: tell them about product fixes": {"unhappy"},
    "Premium furniture buyers: white-glove delivery": {"sofa"},
    "Everyone near a city: pop-up store in Portland, Oregon": {"portland"},
}


def test_the_document_has_every_campaign() -> None:
    assert set(CAMPAIGNS) == set(EXPECTED)


@pytest.fixture
async def world(db: Services) -> dict[int, str]:
    await rfm_world(db)  # rfm1..rfm25, no consent, no birthday
    for i in (16, 17, 22, 24):  # At Risk, Hibernating, At Risk, Lost
        await add_consent(db, i)
    people = {
        "birthday": await add_customer(
            db, "birthday@example.com", birth=date(1991, 7, 20),
            email_consent="granted",
        ),
        "nobirthday": await add_customer(
            db, "nb@example.com", birth=date(1991, 7, 20), email_consent="denied"
        ),
        "cream": await add_customer(db, "cream@example.com"),
        "walker": await add_customer(db, "walker@example.com"),
        "coat": await add_customer(db, "coat@example.com"),
        "coat and scarf": await add_customer(db, "coat2@example.com"),
        "unhappy": await add_customer(db, "unhappy@example.com"),
        "sofa": await add_customer(db, "sofa@example.com"),
        "portland": await add_customer(
            db, "portland@example.com", city="Portland", region="OR"
        ),
        "maine": await add_customer(
            db, "maine@example.com", city="Portland", region="ME"
        ),
    }  # fmt: skip
    await add_orders(
        db, people["birthday"], order(days_ago(9), [("Outerwear", 1, "89.90")])
    )
    await add_orders(
        db, people["nobirthday"], order(days_ago(9), [("Outerwear", 1, "89.90")])
    )
    await add_orders(
        db, people["cream"], order(days_ago(80), [("Skincare", 1, "54.00", CREAM)])
    )
    await add_orders(
        db,
        people["walker"],
        order(days_ago(42), [("Skincare", 1, "54.00", CREAM)]),
        *(
            order(days_ago(15 + 26 * k), [("Footwear", 1, "139.00", "NW-501")])
            for k in range(4)
        ),
    )
    october = datetime(2024, 10, 14, tzinfo=UTC)
    for who in ("coat", "coat and scarf"):
        await add_orders(
            db, people[who], order(october, [("Outerwear", 1, "289.00", "NW-101")])
        )
    await add_orders(
        db,
        people["coat and scarf"],
        order(days_ago(10), [("Accessories", 1, "79.00", "NW-202")]),
    )
    await add_engagement(db, people["unhappy"], tickets=3, good=1, bad=2)
    await add_orders(
        db,
        people["sofa"],
        order(days_ago(20), [("Furniture", 1, "1899.00"), ("Skincare", 3, "162.00")]),
    )
    await refresh_all(db.sessions, db.settings, NOW)
    names = {v: k for k, v in people.items()}
    names.update({i: f"rfm{i}" for i in range(1, 26)})
    return names


async def add_consent(db: Services, customer_id: int) -> None:
    from gateway.db import models

    async with db.sessions() as session, session.begin():
        session.add(
            models.Consent(
                customer_id=customer_id, channel="email", state="granted",
                source="test",
            )
        )  # fmt: skip


@pytest.mark.parametrize("title", sorted(EXPECTED))
async def test_campaign_reaches_exactly_its_customers(
    db: Services, world: dict[int, str], title: str
) -> None:
    async with db.sessions() as session:
        count, page = await preview(session, CAMPAIGNS[title], NOW, 100, None)
    assert {world[c.id] for c in page.items} == EXPECTED[title]
    assert count == len(EXPECTED[title])

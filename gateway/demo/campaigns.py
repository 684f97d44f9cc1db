"""The demo's campaigns as saved automations: the eight of docs/automations.md
("The demo's automations"), built on the demo world's catalogue and the
Klaviyo simulator's lists, saved at start-up and evaluated at once so a new
user sees runs within a minute instead of at the next quarter hour.

Saving is idempotent: an automation (or a segment it follows) whose name is
taken is left as it is, so a demo restarted on a database it keeps (an
operator's ``CG_DATABASE_URL``) neither duplicates nor fails. An automation
whose Klaviyo list is missing (no Klaviyo, or a real one without that list)
is one log line and left out, as is one naming a product or category
nobody bought yet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from gateway.automations.definitions import parse
from gateway.automations.evaluate import evaluate_all
from gateway.automations.service import create
from gateway.automations.tables import Automation
from gateway.errors import BadUserInput, NotFound, describe
from gateway.insights.catalogue import set_product_interval
from gateway.insights.segments import create_segment, segment_by_name
from gateway.runtime.services import Services

log = logging.getLogger("gateway.demo")

FACE_CREAM_SKU = "NW-301"
FACE_CREAM_DAYS = 90
"""The demo's face cream lasts 90 days. Learned from the simulated orders it
would be ~43: the simulator also puts the cream in ordinary baskets, so repeat
purchases come closer than a jar lasts; the operator's interval
(``setProductReplenishment``) says what the jar says."""
EMAIL_CONSENT = {"channel": "email", "state": "granted"}
ACTOR = "demo"


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    trigger: Mapping[str, Any]
    actions: list[dict[str, Any]]
    conditions: Mapping[str, Any] | None = None
    lists: tuple[str, ...] = ()
    """Names of the Klaviyo lists its ``addToList`` actions subscribe to, in order."""


def demo_segments() -> dict[str, dict[str, Any]]:
    """Saved segments of docs/segments.md's campaigns, so its export examples
    and the segment-triggered automations run against the demo as written."""
    return {
        "Win-back": {
            "rfmSegmentIn": ["At Risk", "Hibernating"],
            "consent": EMAIL_CONSENT,
        },
        "Low satisfaction": {"satisfaction": {"lte": 0.5}, "ticketCount": {"gte": 1}},
        "Premium furniture": {
            "favouriteCategoryBySpend": "Furniture",
            "lifetimeValue": {"gte": 1000},
        },
        "Portland pop-up": {
            "or": [{"city": "Portland", "region": "OR"}, {"region": "OR"}]
        },
        "VIP": {"rfmSegmentIn": ["Champions"]},
    }


def last_october(now: datetime) -> dict[str, str]:
    """The last October that has ended (the coat buyers' month)."""
    year = now.year if now.month > 10 else now.year - 1
    return {
        "from": datetime(year, 10, 1, tzinfo=UTC).isoformat(),
        "to": datetime(year, 10, 31, 23, 59, 59, tzinfo=UTC).isoformat(),
    }


def next_december(now: datetime) -> dict[str, str]:
    """This December (now or to come), the accessories' month."""
    year = now.year
    return {
        "from": datetime(year, 12, 1, tzinfo=UTC).isoformat(),
        "to": datetime(year, 12, 31, 23, 59, 59, tzinfo=UTC).isoformat(),
    }


def campaigns(now: datetime) -> list[Campaign]:
    return [
        Campaign(
            "Birthday promo",
            {"birthday": {"monthAhead": 1}},
            [
                {"createDiscountCode": {"percent": 20, "validDays": 60}},
                {"addToList": {"includeDiscountCode": True}},
            ],
            {"orderCount": {"gte": 1}, "consent": EMAIL_CONSENT},
            ("Birthday promo",),
        ),
        Campaign(
            "Face cream reorder reminder",
            {"replenishmentDue": {"daysAhead": 14, "sku": FACE_CREAM_SKU}},
            [
                {"addToList": {}},
                {
                    "createTask": {
                        "title": "Suggest a face cream refill",
                        "dueInDays": 3,
                    }
                },
            ],
            lists=("Reorder reminders",),
        ),
        Campaign(
            "Win-back",
            {"noOrder": {"days": 120}},
            [{"addToList": {}}, {"tag": {"tags": ["win-back"]}}],
            {"rfmSegmentIn": ["At Risk", "Hibernating"], "consent": EMAIL_CONSENT},
            ("Win-back",),
        ),
        Campaign(
            "Coat buyers: accessories",
            {"during": next_december(now)},
            [{"tag": {"tags": ["show-accessories"]}}, {"addToList": {}}],
            {
                "purchased": {"category": "Outerwear", "between": last_october(now)},
                "not": {"purchased": {"category": "Accessories", "inLastDays": 60}},
            },
            ("Accessories picks",),
        ),
        Campaign(
            "Low satisfaction follow-up",
            {"ticketRatedBad": True},
            [
                {
                    "createTask": {
                        "title": "Call about the bad rating; tell them what we fixed",
                        "assignee": "support",
                        "dueInDays": 1,
                    }
                }
            ],
        ),
        Campaign(
            "Premium furniture: white-glove",
            {"segmentEntered": {"segment": "Premium furniture"}},
            [
                {"tag": {"tags": ["white-glove"]}},
                {
                    "createTask": {
                        "title": "Offer white-glove delivery",
                        "assignee": "sales",
                        "dueInDays": 3,
                    }
                },
            ],
        ),
        Campaign(
            "Portland pop-up",
            {"segmentEntered": {"segment": "Portland pop-up"}},
            [{"addToList": {}}],
            lists=("Portland",),
        ),
        Campaign(
            "VIP early access",
            {"segmentEntered": {"segment": "VIP"}},
            [{"addToList": {}}, {"tag": {"tags": ["vip"]}}],
            lists=("VIP early access",),
        ),
    ]


def with_lists(campaign: Campaign, ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """The campaign's actions, each ``addToList`` given its list's id."""
    names = iter(campaign.lists)
    actions = []
    for action in campaign.actions:
        if "addToList" in action:
            action = {"addToList": {**action["addToList"], "listId": ids[next(names)]}}
        actions.append(action)
    return actions


async def list_ids(services: Services) -> dict[str, str]:
    """Klaviyo's lists by name (none without Klaviyo)."""
    klaviyo = services.upstreams.klaviyo
    if klaviyo is None:
        return {}
    return {found.name: found.id for found in await klaviyo.lists()}


async def save_segments(services: Services, now: datetime) -> None:
    async with services.sessions() as session, session.begin():
        for name, spec in demo_segments().items():
            try:
                await segment_by_name(session, name)
            except NotFound:
                await create_segment(session, name, spec, now)


async def set_face_cream(services: Services) -> None:
    """The face cream's 90 days, as an operator sets them (before the
    replenishment dates are computed); a world where nobody bought it yet
    has no product to set."""
    try:
        async with services.sessions() as session, session.begin():
            await set_product_interval(session, FACE_CREAM_SKU, FACE_CREAM_DAYS)
    except BadUserInput:
        log.warning("demo: nobody bought the face cream %s yet", FACE_CREAM_SKU)


async def save_campaigns(services: Services, now: datetime) -> list[str]:
    """Save the campaigns not saved yet; returns the names saved now."""
    ids = await list_ids(services)
    saved = []
    async with services.sessions() as session, session.begin():
        taken = set(await session.scalars(select(Automation.name)))
        for campaign in campaigns(now):
            if campaign.name in taken:
                continue
            missing = [name for name in campaign.lists if name not in ids]
            if missing:
                log.warning(
                    "demo: automation %r left out, Klaviyo has no list %s",
                    campaign.name,
                    ", ".join(missing),
                )
                continue
            definition = parse(
                dict(campaign.trigger),
                dict(campaign.conditions) if campaign.conditions else None,
                with_lists(campaign, ids),
            )
            try:
                async with session.begin_nested():
                    await create(session, campaign.name, definition, ACTOR, now)
            except BadUserInput as exc:  # a SKU or category nobody bought yet
                log.info(
                    "demo: automation %r left out: %s", campaign.name, describe(exc)
                )
                continue
            saved.append(campaign.name)
    return saved


async def start_campaigns(services: Services, now: datetime) -> int:
    """Save the campaigns (their segments are saved with the insights,
    ``save_segments``) and evaluate every periodic trigger now (the worker
    does the runs); returns how many runs were opened."""
    await save_campaigns(services, now)
    return await evaluate_all(services.sessions, services.jobs, now)

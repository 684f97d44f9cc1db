"""The demo's campaigns end to end, on SQLite and PostgreSQL, saved and
evaluated as ``customer-graph demo`` does (``gateway.demo.campaigns``) against
the simulators over HTTP: the birthday promo makes one Shopify code per
customer, limited to their favourite category's collection, and hands it to
Klaviyo with the list subscription — once, whatever evaluates or retries
again; the face-cream reminder selects the customer whose 90-day cream runs
out next week, not the one with a shoe habit (issue 17's exact data)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from connectors.demo_world import World
from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.simulator_server import serve_app
from gateway.app import BLUEPRINTS
from gateway.automations.definitions import parse
from gateway.automations.evaluate import evaluate_all
from gateway.automations.service import retry
from gateway.automations.tables import Automation, AutomationRun
from gateway.automations.upstream_checks import check_upstream
from gateway.db import models
from gateway.db.models import utcnow
from gateway.demo.campaigns import save_campaigns
from gateway.demo.command import prepare_insights
from gateway.demo.seed import seed
from gateway.demo.simulation import (
    GENEROUS,
    Simulators,
    klaviyo_simulator,
    simulated_upstreams,
    upstream_settings,
)
from gateway.errors import BadUserInput
from gateway.identity.links import linked_ids
from gateway.insights.refresh import refresh_all
from gateway.insights.tables import CustomerTraits
from gateway.jobs.worker import drain
from gateway.promotions.tables import PromoCode
from gateway.runtime.services import Services, open_services
from tests.integration.insights.facts import NOW, add_customer, add_orders, days_ago
from tests.integration.insights.facts import order as order_of
from tests.integration.insights.test_replenishment import CREAM, SHOES, cream, regulars
from tests.integration.jobs.conftest import empty_jobs

WORLD = World(seed=42, size=60)
DELETED_IN_SHOPIFY = 7
"""World indices ≡ 7 (mod 50) have no Shopify customer (the simulator's default)."""


@dataclass
class Campaigns:
    services: Services
    klaviyo: KlaviyoSimulator
    simulators: Simulators | None = None

    async def work(self) -> None:
        """Run every job due, as the demo's worker does."""
        for _ in range(20):
            await drain(self.services.jobs, self.services.settings, self.services, BLUEPRINTS)  # fmt: skip
            if not await self.services.jobs.job_manager.list_jobs_async(status="todo"):
                return
        raise AssertionError("jobs still queued after 20 drains")

    async def runs_of(self, name: str) -> list[AutomationRun]:
        async with self.services.sessions() as session:
            found = await session.scalars(
                select(AutomationRun)
                .join(Automation, Automation.id == AutomationRun.automation_id)
                .where(Automation.name == name)
                .order_by(AutomationRun.id)
            )
            return list(found)

    def list_id(self, name: str) -> str:
        return next(k for k, v in self.klaviyo.account.lists.items() if v.name == name)


async def open_campaigns(
    db: Services, simulators: Simulators | None
) -> AsyncIterator[Campaigns]:
    klaviyo = klaviyo_simulator(WORLD, 0.0)
    async with serve_app(klaviyo.app) as url:
        settings = db.settings.model_copy(
            update={
                **upstream_settings("klaviyo", url),
                "jobs_max_attempts": 3,
                "jobs_retry_seconds": 0,
                "insights_refresh_interval": 0,
            }
        )
        if simulators is not None:
            settings = simulators.settings(settings)
        async with open_services(settings) as services:
            await empty_jobs(services)
            yield Campaigns(services, klaviyo, simulators)
            await empty_jobs(services)


@pytest.fixture
async def world_campaigns(db: Services) -> AsyncIterator[Campaigns]:
    """The demo: the world seeded, its simulators, Klaviyo's with the
    campaigns' lists."""
    await seed(db.sessions, WORLD)
    async with simulated_upstreams(WORLD, posthog_queries_per_hour=GENEROUS) as sims:
        async for opened in open_campaigns(db, sims):
            yield opened


@pytest.fixture
async def fact_campaigns(db: Services) -> AsyncIterator[Campaigns]:
    """Klaviyo only, over the insights tests' fixed orders."""
    async for opened in open_campaigns(db, None):
        yield opened


def next_month(today: date) -> date:
    return date(1990, today.month % 12 + 1, 15)


async def test_the_birthday_promo_makes_one_code_per_customer_for_their_favourite(
    world_campaigns: Campaigns,
) -> None:
    c = world_campaigns
    services, shopify = c.services, c.simulators.shopify  # type: ignore[union-attr]
    chosen = [
        p
        for p in WORLD.customers
        if p.index % 50 != DELETED_IN_SHOPIFY
        and shopify.store.orders_by_customer.get(7_301_234_560_000 + p.index)
    ][:4]
    emails = [p.email for p in chosen]
    born = next_month(utcnow().date())
    async with services.sessions() as session, session.begin():
        await session.execute(update(models.Customer).values(birth_date=None))
        await session.execute(
            update(models.Customer)
            .where(models.Customer.email.in_(emails))
            .values(birth_date=born)
        )
        ids = dict(
            (await session.execute(
                select(models.Customer.email, models.Customer.id)
                .where(models.Customer.email.in_(emails))
            )).all()
        )  # fmt: skip
        refused = ids[emails[-1]]
        await session.execute(
            update(models.Consent)
            .where(models.Consent.channel == "email")
            .where(models.Consent.customer_id.in_(ids.values()))
            .values(state="granted")
        )
        await session.execute(
            update(models.Consent)
            .where(models.Consent.channel == "email")
            .where(models.Consent.customer_id == refused)
            .values(state="denied")
        )
    await prepare_insights(services)
    now = utcnow()
    await save_campaigns(services, now)
    await evaluate_all(services.sessions, services.jobs, now)
    await c.work()

    runs = await c.runs_of("Birthday promo")
    consenting = {ids[e] for e in emails[:-1]}
    assert {r.customer_id for r in runs} == consenting
    assert {r.status for r in runs} == {"done"}
    async with services.sessions() as session:
        codes = list(await session.scalars(select(PromoCode)))
        favourites = dict(
            (await session.execute(
                select(CustomerTraits.customer_id, CustomerTraits.favourite_category_by_quantity)
                .where(CustomerTraits.customer_id.in_(consenting))
            )).all()
        )  # fmt: skip
    assert sorted(code.customer_id for code in codes) == sorted(consenting)
    links = await linked_ids(services.sessions, "shopify", list(consenting))
    by_customer = {
        d["codeDiscount"]["customerSelection"]["customers"][0]["id"]: d["codeDiscount"]
        for d in shopify.store.discounts
    }
    assert len(shopify.store.discounts) == len(consenting)
    listed = c.list_id("Birthday promo")
    for code in codes:
        discount = by_customer[links[code.customer_id]]
        assert [x["id"] for x in discount["customerSelection"]["customers"]] == [
            links[code.customer_id]
        ]
        (collection,) = discount["customerGets"]["items"]["collections"]
        assert collection["title"] == favourites[code.customer_id] == code.category
        assert discount["customerGets"]["value"]["percentage"] == 0.2
        assert discount["usageLimit"] == 1
        assert discount["codes"][0]["code"] == code.code
        email = next(e for e, i in ids.items() if i == code.customer_id)
        profile = c.klaviyo.profile(email)
        assert profile is not None
        assert profile.attributes["properties"]["promoCode"] == code.code
    c.klaviyo.run_jobs()  # Klaviyo runs its bulk jobs a few seconds later
    members = c.klaviyo.list_emails(listed)
    assert {e.lower() for e in emails[:-1]} <= members
    assert emails[-1].lower() not in members

    shopify.operations.reset()
    assert await evaluate_all(services.sessions, services.jobs, utcnow()) == 0
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(AutomationRun)
            .where(AutomationRun.id == runs[0].id)
            .values(status="dead", outcomes=[])  # as if Shopify's answer was lost
        )
        await retry(session, services.jobs, runs[0].id)
    await c.work()
    async with services.sessions() as session:
        again = list(await session.scalars(select(PromoCode)))
        rerun = await session.get(AutomationRun, runs[0].id)
    assert rerun is not None
    assert rerun.status == "done"
    assert sorted(x.code for x in again) == sorted(x.code for x in codes)
    assert len(shopify.store.discounts) == len(consenting)
    assert shopify.operations["discountCodeBasicCreate"] == 0


async def test_the_face_cream_reminder_selects_the_cream_running_out_not_the_shoes(
    fact_campaigns: Campaigns,
) -> None:
    c = fact_campaigns
    db = c.services
    await regulars(db)  # the cream is learned: 90 days
    buyer = await add_customer(db, "cream@example.com", email_consent="granted")
    await add_orders(db, buyer, cream(83))
    walker = await add_customer(db, "shoes@example.com", email_consent="granted")
    await add_orders(
        db,
        walker,
        cream(42),
        *(
            order_of(days_ago(15 + 26 * k), [("Footwear", 1, "139.00", SHOES)])
            for k in range(5)
        ),
    )
    await refresh_all(db.sessions, db.settings, NOW)
    await save_campaigns(db, NOW)
    await evaluate_all(db.sessions, db.jobs, NOW)
    await c.work()

    runs = await c.runs_of("Face cream reorder reminder")
    due = (NOW + timedelta(days=7)).date()  # bought 83 days ago, lasts 90
    assert [(r.customer_id, r.occasion, r.status) for r in runs] == [
        (buyer, f"{CREAM}:{due.isoformat()}", "done")
    ]
    c.klaviyo.run_jobs()
    assert c.klaviyo.list_emails(c.list_id("Reorder reminders")) == {
        "cream@example.com"
    }
    async with db.sessions() as session:
        tasks = list(await session.scalars(select(models.Task)))
    assert [(t.customer_id, t.title) for t in tasks] == [
        (buyer, "Suggest a face cream refill")
    ]


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"addToList": {"listId": "NOPE00"}}, "actions[0].addToList.listId"),
        (
            {"createDiscountCode": {"percent": 10, "category": "No Such Category"}},
            "actions[0].createDiscountCode.category",
        ),
    ],
)
async def test_what_an_action_names_upstream_must_be_there_before_it_is_saved(
    world_campaigns: Campaigns, action: dict[str, object], field: str
) -> None:
    """A Klaviyo list or a category's Shopify collection that does not exist
    would kill every run: the upstream is asked first (tryout of issue 17)."""
    services = world_campaigns.services
    good = parse(
        {"orderPlaced": True},
        None,
        [
            {"createDiscountCode": {"percent": 10, "category": "Outerwear"}},
            {"addToList": {"listId": world_campaigns.list_id("Birthday promo")}},
        ],
    )
    await check_upstream(services, good)
    with pytest.raises(BadUserInput) as refused:
        await check_upstream(services, parse({"orderPlaced": True}, None, [action]))
    assert refused.value.extensions["field"] == field

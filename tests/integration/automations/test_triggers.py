"""Each trigger opens one run per customer and occasion, and only for the
customers it selects and the conditions admit; a paused automation opens
none. Periodic triggers are evaluated as the periodic task does
(``evaluate_all``); event triggers through their signed webhooks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import insert, update

from connectors.demo_world import CATALOG, World
from connectors.shopify.simulator.server import ShopifySimulator
from gateway.automations.evaluate import evaluate_all
from gateway.automations.tables import Automation, AutomationRun
from gateway.db import models
from gateway.insights.catalogue import set_product_interval
from gateway.insights.order_facts import upsert_orders
from gateway.insights.tables import CheckoutFact, CustomerTraits
from gateway.runtime.services import Services
from tests.integration.automations.conftest import (
    SHOPIFY_SECRET,
    ZENDESK_SECRET,
    Drain,
)
from tests.integration.automations.helpers import (
    Api,
    count,
    create,
    created,
    customer,
    runs,
    tasks_of,
    zendesk_event,
)
from tests.integration.insights.facts import order

WORLD = World(seed=5, size=12)


def traits(customer_id: int, last_order_at: datetime) -> CustomerTraits:
    return CustomerTraits(
        customer_id=customer_id,
        last_order_at=last_order_at,
        lifetime_value=0,
        order_count=1,
        open_tickets=0,
        ticket_count=0,
        computed_at=last_order_at,
    )


def born(days_from_today: int, years: int = 30) -> date:
    day = datetime.now(UTC).date() + timedelta(days=days_from_today)
    return day.replace(year=day.year - years)


async def evaluate(env: Services, now: datetime | None = None) -> int:
    return await evaluate_all(env.sessions, env.jobs, now or datetime.now(UTC))


async def test_an_order_webhook_opens_one_run_and_its_job_at_once(
    env: Services, api: Api, http: httpx.AsyncClient, work: Drain
) -> None:
    shop = ShopifySimulator(WORLD, api_secret=SHOPIFY_SECRET)
    buyer = await customer(env, WORLD.customers[3].email)
    await created(api, "Thank buyers", {"orderPlaced": True})
    placed = shop.add_order(3, [(CATALOG[0], 1)])
    payload = shop.order_payload(placed)
    first = await shop.send_webhook(http, "orders/create", payload, event_id="e-1")
    again = await shop.send_webhook(http, "orders/create", payload, event_id="e-1")
    assert (first.json(), again.json()) == (
        {"status": "processed"},
        {"status": "duplicate"},
    )
    (run,) = await runs(env)
    assert (run.customer_id, run.trigger, run.status) == (
        buyer,
        "orderPlaced",
        "pending",
    )
    assert run.occasion.startswith("order:gid://shopify/Order/")
    queued = await env.jobs.job_manager.list_jobs_async(task="automations:execute_run")
    assert [j.task_kwargs for j in queued] == [{"run_id": run.id}]
    await work()
    (run,) = await runs(env)
    assert run.status == "done"
    assert [t.title for t in await tasks_of(env, buyer)] == ["Call them"]


async def test_a_ticket_rated_bad_opens_a_run_and_a_good_one_does_not(
    env: Services, api: Api, http: httpx.AsyncClient, work: Drain
) -> None:
    unhappy = await customer(env, "unhappy@example.com")
    async with env.sessions() as session, session.begin():
        session.add(
            models.Identity(customer_id=unhappy, source="zendesk", external_id="900100")
        )
    await created(api, "Apologise", {"ticketRatedBad": True})
    detail = {"id": "7001", "requester_id": "900100", "status": "SOLVED"}
    for rating, ticket in (("good", "7000"), ("bad", "7001"), ("bad", "7001")):
        answer = await zendesk_event(
            http,
            ZENDESK_SECRET,
            "ticket.satisfaction_rated",
            {**detail, "id": ticket},
            {"current": rating, "previous": "offered"},
        )
        assert answer.status_code == 200, answer.text
    (run,) = await runs(env)  # the repeat of ticket 7001 found its run
    assert (run.customer_id, run.occasion) == (unhappy, "ticket:7001")
    await work()
    assert len(await tasks_of(env, unhappy)) == 1


async def test_a_birthday_days_ahead_runs_once_a_year(env: Services, api: Api) -> None:
    soon = await customer(env, "soon@example.com", birth=born(3))
    await customer(env, "later@example.com", birth=born(20))
    await customer(env, "never@example.com")
    await created(api, "Birthday soon", {"birthday": {"daysAhead": 7}})
    assert await evaluate(env) == 1
    assert await evaluate(env) == 0  # the next tick finds the year's run
    (run,) = await runs(env)
    upcoming = datetime.now(UTC).date() + timedelta(days=3)
    assert (run.customer_id, run.occasion) == (soon, str(upcoming.year))


async def test_a_birthday_month_trigger_selects_by_month_from_the_first(
    env: Services, api: Api
) -> None:
    today = datetime.now(UTC).date()
    this_month = await customer(
        env, "this@example.com", birth=date(1990, today.month, 1)
    )
    next_month = (today.month % 12) + 1
    ahead = await customer(env, "next@example.com", birth=date(1991, next_month, 1))
    await created(api, "Birthday month", {"birthday": {"inBirthdayMonth": True}})
    await created(api, "Birthday next month", {"birthday": {"monthAhead": 1}})
    assert await evaluate(env) == 2
    by_customer = {r.customer_id: r.occasion for r in await runs(env)}
    year_ahead = today.year + (1 if next_month == 1 else 0)
    assert by_customer == {
        this_month: f"{today.year}-{today.month:02d}",
        ahead: f"{year_ahead}-{next_month:02d}",
    }


async def test_replenishment_due_selects_the_product_running_out(
    env: Services, api: Api
) -> None:
    now = datetime.now(UTC)
    due = await customer(env, "cream@example.com")
    fresh = await customer(env, "fresh@example.com")
    await upsert_orders(
        env.sessions,
        due,
        [order(now - timedelta(days=80), [("Skin", 1, "30", "CREAM")])],
    )
    await upsert_orders(
        env.sessions,
        fresh,
        [order(now - timedelta(days=5), [("Skin", 1, "30", "CREAM")])],
    )
    async with env.sessions() as session, session.begin():
        await set_product_interval(session, "CREAM", 90)
    await created(
        api, "Reorder cream", {"replenishmentDue": {"daysAhead": 14, "sku": "CREAM"}}
    )
    assert await evaluate(env, now) == 1
    (run,) = await runs(env)
    run_out = (now - timedelta(days=80) + timedelta(days=90)).date()
    assert (run.customer_id, run.occasion) == (due, f"CREAM:{run_out.isoformat()}")


async def test_an_abandoned_checkout_is_followed_up_after_its_hours(
    env: Services, api: Api
) -> None:
    now = datetime.now(UTC)
    left, recent, bought = [
        await customer(env, f"{n}@example.com") for n in ("left", "recent", "bought")
    ]
    async with env.sessions() as session, session.begin():
        await session.execute(
            insert(CheckoutFact),
            [
                {"checkout_id": "c1", "customer_id": left, "created_at": now - timedelta(hours=5)},
                {"checkout_id": "c2", "customer_id": recent, "created_at": now - timedelta(hours=2)},
                {"checkout_id": "c3", "customer_id": bought, "created_at": now - timedelta(hours=6)},
            ],
        )  # fmt: skip
    await upsert_orders(
        env.sessions, bought, [order(now - timedelta(hours=1), [("Shoes", 1, "50")])]
    )
    await created(api, "Come back", {"checkoutAbandoned": {"hours": 4}})
    assert await evaluate(env, now) == 1
    (run,) = await runs(env)
    assert (run.customer_id, run.occasion) == (left, "checkout:c1")


async def test_no_order_for_days_runs_once_per_dormant_spell(
    env: Services, api: Api
) -> None:
    now = datetime.now(UTC)
    dormant = await customer(env, "dormant@example.com")
    active = await customer(env, "active@example.com")
    async with env.sessions() as session, session.begin():
        for who, days in ((dormant, 100), (active, 10)):
            session.add(traits(who, now - timedelta(days=days)))
    await created(api, "Win back", {"noOrder": {"days": 90}})
    assert await evaluate(env, now) == 1
    (run,) = await runs(env)
    since = (now - timedelta(days=100)).date().isoformat()
    assert (run.customer_id, run.occasion) == (dormant, f"since:{since}")


async def test_a_campaign_on_dates_runs_once_for_each_customer_within_its_span(
    env: Services, api: Api
) -> None:
    """Coat buyers in October, shown accessories in December: the span opens,
    the conditions narrow it, a customer who meets them later in the span gets
    the run then, and nobody gets a second one."""
    now = datetime.now(UTC)
    buyer = await customer(env, "coat@example.com")
    later = await customer(env, "later@example.com")
    await customer(env, "other@example.com")
    async with env.sessions() as session, session.begin():
        session.add(traits(buyer, now - timedelta(days=40)))
    span = {
        "from": (now + timedelta(days=2)).isoformat(),
        "to": (now + timedelta(days=9)).isoformat(),
    }
    await created(
        api,
        "December accessories",
        {"during": span},
        conditions={"lastOrderAt": {"lastDays": 60}},
    )
    assert await evaluate(env, now) == 0  # not open yet
    assert await evaluate(env, now + timedelta(days=3)) == 1
    async with env.sessions() as session, session.begin():
        session.add(traits(later, now))
    assert await evaluate(env, now + timedelta(days=4)) == 1
    assert await evaluate(env, now + timedelta(days=5)) == 0
    async with env.sessions() as session, session.begin():
        await session.execute(update(CustomerTraits).values(last_order_at=now))
    assert await evaluate(env, now + timedelta(days=10)) == 0  # over
    day = (now + timedelta(days=2)).date().isoformat()
    assert sorted((r.customer_id, r.occasion) for r in await runs(env)) == [
        (buyer, f"during:{day}"),
        (later, f"during:{day}"),
    ]


async def test_a_campaign_span_over_backwards_or_too_long_is_refused(
    api: Api, env: Services
) -> None:
    now = datetime.now(UTC)

    def span(start: int, end: int) -> dict[str, object]:
        at = [(now + timedelta(days=d)).isoformat() for d in (start, end)]
        return {"during": {"from": at[0], "to": at[1]}}

    for trigger, field in (
        (span(-9, -2), "trigger.during.to"),
        (span(5, 2), "trigger.during.to"),
        (span(0, 400), "trigger.during.to"),
    ):
        answer = await create(api, "Refused", trigger)
        error = answer["errors"][0]["extensions"]
        assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field), trigger
    assert await count(env, Automation) == 0


async def test_segment_entered_and_exited_follow_the_snapshot(
    env: Services, api: Api
) -> None:
    now = datetime.now(UTC)
    first = await customer(env, "first@example.com")
    second = await customer(env, "second@example.com")
    async with env.sessions() as session, session.begin():
        session.add(traits(first, now - timedelta(days=1)))
        session.add(traits(second, now - timedelta(days=99)))
    made = await api(
        'mutation { createSegment(name: "Recent buyers",'
        " filter: {lastOrderAt: {lastDays: 30}}) { name } }"
    )
    assert "errors" not in made, made
    await created(api, "Welcome in", {"segmentEntered": {"segment": "Recent buyers"}})
    await created(api, "Goodbye", {"segmentExited": {"segment": "Recent buyers"}})
    assert await evaluate(env, now) == 0  # the first look takes the snapshot
    async with env.sessions() as session, session.begin():
        t = CustomerTraits
        await session.execute(
            update(t)
            .where(t.customer_id == first)
            .values(last_order_at=now - timedelta(days=60))
        )
        await session.execute(
            update(t).where(t.customer_id == second).values(last_order_at=now)
        )
    assert await evaluate(env, now) == 2
    assert await evaluate(env, now) == 0
    day = now.date().isoformat()
    assert sorted((r.trigger, r.customer_id, r.occasion) for r in await runs(env)) == [
        ("segmentEntered", second, f"entered:{day}"),
        ("segmentExited", first, f"exited:{day}"),
    ]


async def test_conditions_narrow_the_triggered_customers(
    env: Services, api: Api
) -> None:
    vip = await customer(env, "vip@example.com", birth=born(2), tags=("vip",))
    await customer(env, "plain@example.com", birth=born(2))
    await created(
        api,
        "VIP birthdays",
        {"birthday": {"daysAhead": 7}},
        conditions={"tagsAny": ["vip"]},
    )
    assert await evaluate(env) == 1
    assert [r.customer_id for r in await runs(env)] == [vip]


async def test_a_paused_automation_opens_no_run_until_resumed(
    env: Services, api: Api
) -> None:
    await customer(env, "paused@example.com", birth=born(1))
    automation = await created(api, "Paused birthdays", {"birthday": {"daysAhead": 7}})
    gid = (await api("{ automations { id } }"))["data"]["automations"][0]["id"]
    paused = await api(
        "mutation($i: ID!) { pauseAutomation(id: $i) { status } }", {"i": gid}
    )
    assert paused["data"] == {"pauseAutomation": {"status": "PAUSED"}}
    assert await evaluate(env) == 0
    await api("mutation($i: ID!) { resumeAutomation(id: $i) { status } }", {"i": gid})
    assert await evaluate(env) == 1
    assert await count(env, AutomationRun) == 1
    assert automation > 0

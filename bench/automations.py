"""Automations benchmark: the periodic triggers evaluated for many customers
on PostgreSQL, as the ``automations:evaluate`` job does every tick.

``python -m bench.automations --customers 1000000 --url
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres`` creates a throwaway
database on that server, seeds customers (birth dates spread over the year)
and their traits (last orders spread over 400 days) with ``generate_series``,
saves three automations — a birthday in 7 days, the birthday month, no order
for 365 days — and times the first evaluation (every run and its job inserted)
and the next tick (nothing new: the occasions already have their runs).

Then the order-placed trigger among those customers: the demo world's
``--orders`` customers (seeded first), an ``orderPlaced`` automation saved, and
the gateway (in this process, its worker in its lifespan, as ``serve`` runs
it) is sent one signed Shopify ``orders/create`` webhook every 100 ms; each
latency is from just before the webhook is sent to its run's ``started_at``
(the worker's claim, when its first action starts).
Prints one line per figure, as docs/benchmarks.md ("Automations") reports.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr
from sqlalchemy import select, text

from bench.database import bench_database
from connectors.demo_world import CATALOG, World
from connectors.shopify.simulator.server import ShopifySimulator
from gateway.app import create_app
from gateway.automations import service
from gateway.automations.definitions import parse
from gateway.automations.evaluate import evaluate_all
from gateway.automations.tables import AutomationRun
from gateway.db.models import utcnow
from gateway.demo.seed import seed
from gateway.runtime.services import Services, open_services
from gateway.settings import Settings

SHOPIFY_SECRET = "shpss_bench_automations"
TRIGGERS = {
    "birthday in 7 days": {"birthday": {"daysAhead": 7}},
    "birthday month": {"birthday": {"inBirthdayMonth": True}},
    "no order for 365 days": {"noOrder": {"days": 365}},
}
SEED = (
    "INSERT INTO customers (email, birth_date, created_at, updated_at)"
    " SELECT 'c' || g || '@example.com',"
    " DATE '1960-01-01' + ((g::bigint * 7919) % 16000)::int, now(), now()"
    " FROM generate_series(1, :n) g",
    "INSERT INTO customer_traits (customer_id, lifetime_value, order_count,"
    " open_tickets, ticket_count, computed_at, last_order_at)"
    " SELECT id, 0, 1, 0, 0, now(), now() - ((id * 13) % 400) * INTERVAL '1 day'"
    " FROM customers",
    "ANALYZE customers",
    "ANALYZE customer_traits",
)


async def run(server: str, customers: int, orders: int) -> None:
    async with bench_database(server) as url:
        settings = Settings(
            database_url=url,
            insights_refresh_interval=0,
            shopify_api_secret=SecretStr(SHOPIFY_SECRET),
        )
        async with open_services(settings) as services:
            world = World(seed=17, size=max(orders, 1))
            await seed(services.sessions, world)  # ids 1…, before the others
            started = time.perf_counter()
            async with services.engine.begin() as connection:
                for statement in SEED:
                    await connection.execute(text(statement), {"n": customers})
            print(
                f"seeded {customers:,} customers: {time.perf_counter() - started:.1f} s"
            )
            now = datetime.now(UTC)
            for label, trigger in TRIGGERS.items():
                definition = parse(trigger, None, [{"tag": {"tags": ["bench"]}}])
                async with services.sessions() as session, session.begin():
                    await service.create(session, label, definition, "bench", now)
            for tick in ("first evaluation", "next tick"):
                started = time.perf_counter()
                opened = await evaluate_all(services.sessions, services.jobs, now)
                took = time.perf_counter() - started
                print(f"{tick}: {opened:,} runs and jobs opened in {took:.1f} s")
            if orders:
                await order_placed(services, world, orders)


async def order_placed(services: Services, world: World, orders: int) -> None:
    """Webhook → action start, for ``orders`` orders one after another, by
    ``world``'s customers."""
    shop = ShopifySimulator(world, api_secret=SHOPIFY_SECRET)
    definition = parse({"orderPlaced": True}, None, [{"tag": {"tags": ["bought"]}}])
    async with services.sessions() as session, session.begin():
        made = await service.create(
            session, "order placed", definition, "bench", utcnow()
        )
        automation_id = made.id
    # The runs left by the daily triggers are not this measure's: the worker
    # would work through them first.
    async with services.engine.begin() as connection:
        await connection.execute(text("DELETE FROM procrastinate_jobs"))
    app = create_app(services=services, worker=True)
    sent: dict[str, datetime] = {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as http,
    ):
        buyers = sorted(r["_index"] for r in shop.store.customers.values())
        for n in range(orders):
            item = (CATALOG[n % len(CATALOG)], 1)
            placed = shop.add_order(buyers[n % len(buyers)], [item])
            payload = shop.order_payload(placed)
            sent[f"order:{payload['admin_graphql_api_id']}"] = utcnow()
            answer = await shop.send_webhook(
                http, "orders/create", payload, event_id=f"bench-{n}"
            )
            answer.raise_for_status()
            await asyncio.sleep(0.1)
        started = await _started(services, automation_id, orders)
    latencies = sorted(
        (at - sent[occasion]).total_seconds() * 1000 for occasion, at in started
    )
    print(
        f"order placed → action start, {len(latencies)} of {orders} orders:"
        f" p50 {statistics.median(latencies):.0f} ms,"
        f" p95 {latencies[int(len(latencies) * 0.95) - 1]:.0f} ms,"
        f" max {latencies[-1]:.0f} ms"
    )


async def _started(
    services: Services, automation_id: int, orders: int
) -> list[tuple[str, datetime]]:
    """The runs' occasions and starts, once every order's run has started
    (30 s at most)."""
    r = AutomationRun
    query = select(r.occasion, r.started_at).where(
        r.automation_id == automation_id, r.started_at.is_not(None)
    )
    for _ in range(300):
        async with services.sessions() as session:
            rows = [(o, at) for o, at in await session.execute(query) if at]
        if len(rows) >= orders:
            break
        await asyncio.sleep(0.1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.automations")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--orders", type=int, default=50, help="order webhooks timed (0: none)"
    )
    parser.add_argument(
        "--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    options = parser.parse_args()
    asyncio.run(run(options.url, options.customers, options.orders))


if __name__ == "__main__":
    main()

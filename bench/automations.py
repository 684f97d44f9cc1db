"""Automations benchmark: the periodic triggers evaluated for many customers
on PostgreSQL, as the ``automations:evaluate`` job does every tick.

``python -m bench.automations --customers 1000000 --url
postgresql+asyncpg://postgres@127.0.0.1:5432/postgres`` creates a throwaway
database on that server, seeds customers (birth dates spread over the year)
and their traits (last orders spread over 400 days) with ``generate_series``,
saves three automations — a birthday in 7 days, the birthday month, no order
for 365 days — and times the first evaluation (every run and its job inserted)
and the next tick (nothing new: the occasions already have their runs).
Prints one line per figure, as docs/benchmarks.md ("Automations") reports.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.automations import service
from gateway.automations.definitions import parse
from gateway.automations.evaluate import evaluate_all
from gateway.db.session import upgrade
from gateway.runtime.services import open_services
from gateway.settings import Settings

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


async def run(server: str, customers: int) -> None:
    name = f"cg_bench_automations_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        await asyncio.to_thread(upgrade, url)
        settings = Settings(database_url=url, insights_refresh_interval=0)
        async with open_services(settings) as services:
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
    finally:
        async with admin.connect() as connection:
            await connection.execute(
                text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.automations")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    options = parser.parse_args()
    asyncio.run(run(options.url, options.customers))


if __name__ == "__main__":
    main()

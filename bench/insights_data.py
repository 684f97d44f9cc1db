"""Synthetic insights data for the benchmark, loaded with PostgreSQL COPY.

``python -m bench.insights_data --customers 1000000 --orders 5000000 --url
postgresql://postgres@127.0.0.1:5432/cg_bench`` migrates the database, empties
the tables it fills, then streams customers, addresses, consents, order facts,
order line facts and their SKUs (``order_item_facts``: five products per
category, ``products``) through ``asyncpg``'s ``copy_records_to_table`` in
chunks, so memory stays flat whatever the size. Deterministic for a seed (the
SKUs are derived from the order number, so the rest is what it was before
they were added).

The rows are consistent by construction (every order's customer exists, every
line's order exists), so the loading session sets ``session_replication_role``
to ``replica``: foreign-key triggers do not fire, as in a ``pg_restore
--disable-triggers``. That skips one locked look-up per loaded row, most of
the load time at millions of rows; it needs a superuser, as a benchmark's own
database has.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg

from gateway.db.session import upgrade

CHUNK = 50_000
NOW = datetime(2025, 6, 1, tzinfo=UTC)
CATEGORIES = (
    ("Outerwear", Decimal("179.50")), ("Accessories", Decimal("45.00")),
    ("Skincare", Decimal("54.00")), ("Furniture", Decimal("949.00")),
    ("Footwear", Decimal("139.00")), ("Electronics", Decimal("299.99")),
    ("Grocery", Decimal("18.00")),
)  # fmt: skip
CITIES = (
    ("US", "OR", "Portland"), ("US", "NY", "New York"), ("DE", "BE", "Berlin"),
    ("GB", "LND", "London"), ("FR", "IDF", "Paris"), ("CA", "ON", "Toronto"),
)  # fmt: skip


def _chunks(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    batch: list[tuple[object, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def customers(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for i in range(1, n + 1):
        signed = NOW - timedelta(days=rng.randint(30, 1500))
        birth = date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28))
        yield (i, f"c{i}@example.com", "Ada", f"L{i}", birth, signed, signed)


def addresses(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for i in range(1, n + 1):
        country, region, city = rng.choice(CITIES)
        yield (i, i, "shipping", city, region, country, True)


def consents(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for i in range(1, n + 1):
        state = "granted" if rng.random() < 0.6 else "denied"
        yield (i, "email", state, "bench", NOW)


Row = tuple[object, ...]
Rows = list[Row]


def orders(
    n_customers: int, n_orders: int, rng: random.Random
) -> Iterator[tuple[tuple[object, ...], Sequence[Row], Sequence[Row]]]:
    for k in range(1, n_orders + 1):
        customer = rng.randint(1, n_customers)
        at = NOW - timedelta(days=rng.random() * 900)
        lines: list[tuple[str, str, int, int, Decimal]] = []
        total = Decimal(0)
        for category, price in rng.sample(CATEGORIES, rng.choice((1, 1, 2))):
            quantity = rng.randint(1, 3)
            lines.append((f"o{k}", category, customer, quantity, price * quantity))
            total += price * quantity
        at_items = [(o, _sku(c, k), who, at, q) for o, c, who, q, _ in lines]
        cancelled = rng.random() < 0.02
        refunded = total if rng.random() < 0.03 else Decimal(0)
        fact = (f"o{k}", customer, at, total, "USD", refunded, cancelled,
                rng.random() < 0.05, sum(q for _, _, _, q, _ in lines))  # fmt: skip
        yield fact, ([] if cancelled else lines), ([] if cancelled else at_items)


def _sku(category: str, order: int) -> str:
    return f"{category[:3].upper()}-{order % PRODUCTS + 1}"


PRODUCTS = 5
"""SKUs per category."""


def products() -> list[tuple[object, ...]]:
    return [
        (_sku(category, n), f"{category} {n + 1}", category)
        for category, _ in CATEGORIES
        for n in range(PRODUCTS)
    ]


async def load(url: str, n_customers: int, n_orders: int, seed: int) -> None:
    rng = random.Random(seed)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET session_replication_role = replica")
        await connection.execute(
            "TRUNCATE customers, order_facts, order_line_facts, order_item_facts,"
            " products, learned_intervals, customer_traits,"
            " customer_rfm, segments, segment_members, segment_membership_events"
            " RESTART IDENTITY CASCADE"
        )
        await connection.copy_records_to_table(
            "products", records=products(), columns=("sku", "title", "category")
        )
        copies = {
            "customers": (customers(n_customers, rng), ("id", "email", "first_name",
                          "last_name", "birth_date", "created_at", "updated_at")),
            "addresses": (addresses(n_customers, rng), ("id", "customer_id", "kind",
                          "city", "region", "country", "is_default")),
            "consents": (consents(n_customers, rng), ("customer_id", "channel",
                         "state", "source", "changed_at")),
        }  # fmt: skip
        for table, (rows, columns) in copies.items():
            for chunk in _chunks(rows):
                await connection.copy_records_to_table(
                    table, records=chunk, columns=columns
                )
        facts: Rows = []
        lines: Rows = []
        items: Rows = []
        for fact, its_lines, its_items in orders(n_customers, n_orders, rng):
            facts.append(fact)
            lines.extend(its_lines)
            items.extend(its_items)
            if len(facts) == CHUNK:
                await _copy_orders(connection, facts, lines, items)
                facts, lines, items = [], [], []
        await _copy_orders(connection, facts, lines, items)
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('customers', 'id'), $1)",
            n_customers,
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def _copy_orders(
    connection: asyncpg.Connection, facts: Rows, lines: Rows, items: Rows
) -> None:
    await connection.copy_records_to_table(
        "order_facts",
        records=facts,
        columns=("order_id", "customer_id", "processed_at", "total", "currency",
                 "refunded", "cancelled", "returned", "item_count"),
    )  # fmt: skip
    await connection.copy_records_to_table(
        "order_line_facts",
        records=lines,
        columns=("order_id", "category", "customer_id", "quantity", "spend"),
    )
    await connection.copy_records_to_table(
        "order_item_facts",
        records=items,
        columns=("order_id", "sku", "customer_id", "processed_at", "quantity"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--url", default="postgresql://postgres@127.0.0.1:5432/cg_bench"
    )
    args = parser.parse_args()
    upgrade(args.url.replace("postgresql://", "postgresql+asyncpg://", 1))
    started = time.perf_counter()
    asyncio.run(load(args.url, args.customers, args.orders, args.seed))
    print(
        f"loaded {args.customers:,} customers and {args.orders:,} orders"
        f" in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

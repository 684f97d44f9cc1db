"""A fleet's writes, for the migrations to run under: seeded tables large
enough that a blocking index build shows, and writers that keep inserting and
updating through short transactions with a live gateway's timeouts.

Each write is an INSERT or UPDATE of the columns a table had when it was
created (later migrations only add nullable columns to these), so the same
statements work at every revision where the table exists.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

SEED = {
    "customers": 30_000,
    "notes": 10_000,
    "order_facts": 60_000,
    "order_line_facts": 100_000,
    "tracked_events": 60_000,
    "audit_log": 60_000,
}
"""Rows per busy table: a plain ``CREATE INDEX`` on any of them holds writes
for a visible fraction of a second, while seeding stays within seconds."""

SEED_SQL = {
    "customers": """INSERT INTO customers (email, created_at, updated_at, last_name)
        SELECT 'seed' || i || '@example.com', now(), now(), 'Name' || (i % 997)
        FROM generate_series(1, $1) AS i""",
    "notes": """INSERT INTO notes (customer_id, author, body, created_at)
        SELECT 1 + i % 1000, 'seed', 'A note', now() FROM generate_series(1, $1) AS i""",
    "order_facts": """INSERT INTO order_facts (order_id, customer_id, processed_at,
        total, currency, refunded, cancelled, returned, item_count)
        SELECT 's' || i, 1 + i % 30000, now() - (i || ' minutes')::interval, 10, 'EUR',
        0, false, false, 1 FROM generate_series(1, $1) AS i""",
    "order_line_facts": """INSERT INTO order_line_facts (order_id, category,
        customer_id, quantity, spend)
        SELECT 's' || (1 + i % 60000), 'c' || i, 1 + i % 30000, 1, 10
        FROM generate_series(1, $1) AS i""",
    "tracked_events": """INSERT INTO tracked_events (message_id, customer_id, type,
        name, properties, context, occurred_at, received_at)
        SELECT 'seed' || i, 1 + i % 30000, 'track', 'viewedProduct', '{}', '{}',
        now() - (i || ' seconds')::interval, now() FROM generate_series(1, $1) AS i""",
    "audit_log": """INSERT INTO audit_log (at, subject, role, action, fields)
        SELECT now() - (i || ' seconds')::interval, 'seed', 'admin', 'read', '[]'
        FROM generate_series(1, $1) AS i""",
}


def _key() -> str:
    return uuid.uuid4().hex


async def _customers(c: asyncpg.Connection) -> None:
    await c.execute(
        "INSERT INTO customers (email, created_at, updated_at) VALUES ($1, now(), now())",
        f"{_key()}@example.com",
    )
    await c.execute(
        "UPDATE customers SET updated_at = now() WHERE id = $1",
        random.randint(1, SEED["customers"]),
    )


async def _notes(c: asyncpg.Connection) -> None:
    await c.execute(
        "INSERT INTO notes (customer_id, author, body, created_at)"
        " VALUES ($1, 'writer', 'A note', now())",
        random.randint(1, 1000),
    )


async def _orders(c: asyncpg.Connection) -> None:
    order, customer = _key(), random.randint(1, SEED["customers"])
    await c.execute(
        "INSERT INTO order_facts (order_id, customer_id, processed_at, total,"
        " currency, refunded, cancelled, returned, item_count)"
        " VALUES ($1, $2, now(), 12.5, 'EUR', 0, false, false, 1)",
        order,
        customer,
    )
    await c.execute(
        "INSERT INTO order_line_facts (order_id, category, customer_id, quantity,"
        " spend) VALUES ($1, 'shoes', $2, 1, 12.5)",
        order,
        customer,
    )
    await c.execute(
        "UPDATE order_facts SET refunded = 1 WHERE order_id = $1",
        f"s{random.randint(1, SEED['order_facts'])}",
    )


async def _events(c: asyncpg.Connection) -> None:
    await c.execute(
        "INSERT INTO tracked_events (message_id, customer_id, type, name,"
        " properties, context, occurred_at, received_at)"
        " VALUES ($1, $2, 'track', 'viewedProduct', '{}', '{}', now(), now())",
        _key(),
        random.randint(1, SEED["customers"]),
    )


async def _audit(c: asyncpg.Connection) -> None:
    await c.execute(
        "INSERT INTO audit_log (at, subject, role, action, fields)"
        " VALUES (now(), 'writer', 'admin', 'read', '[]')"
    )


WRITES: dict[str, Callable[[asyncpg.Connection], Awaitable[None]]] = {
    "customers": _customers,
    "notes": _notes,
    "order_facts": _orders,
    "tracked_events": _events,
    "audit_log": _audit,
}
"""One short transaction's work per busy table (``order_facts`` writes its
lines too: both exist from the same revision)."""


@dataclass
class Writes:
    """What the writers saw, per migration step: the longest wait of one
    write transaction, and every write that failed."""

    step: str = "base"
    tables: set[str] = field(default_factory=set)
    done: int = 0
    failed: list[str] = field(default_factory=list)
    longest: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def write_until_stopped(dsn: str, writes: Writes) -> None:
    """Write to the busy tables that exist, one short transaction at a time,
    with a gateway's timeouts, until ``writes.stop`` is set."""
    connection = await asyncpg.connect(
        dsn, server_settings={"statement_timeout": "5s", "lock_timeout": "5s"}
    )
    try:
        while not writes.stop.is_set():
            for table in sorted(writes.tables & WRITES.keys()):
                step, started = writes.step, time.perf_counter()
                try:
                    async with connection.transaction():
                        await WRITES[table](connection)
                except (asyncpg.PostgresError, OSError) as exc:
                    writes.failed.append(f"{step} {table}: {type(exc).__name__}")
                    continue
                waited = time.perf_counter() - started
                writes.longest[step] = max(writes.longest[step], waited)
                writes.done += 1
            await asyncio.sleep(0)
    finally:
        await connection.close()


async def seed(dsn: str, table: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(SEED_SQL[table], SEED[table])
        await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()

"""Identity benchmark: duplicate candidates over the whole base, merges and
unmerges, on PostgreSQL.

``python -m bench.identity --customers 1000000 --url
postgresql://postgres@127.0.0.1:5432/postgres`` creates a throwaway database
on that server (``bench.database``) and seeds, with ``generate_series``, customers with
an address each: names from pools of 200 first and 500 last names, postcodes
from 10,000; every 100th customer shares the phone of the one before, every
200th is a ``+shop`` sub-address of the one before's mailbox, every 300th has
its name and postcode. Then it times ``duplicateCandidates``' whole pass
(every pair, as the first page needs), and ``--merges`` merges of planted
pairs (each side with notes, tags, consents, loyalty entries, a link and
tracked events), then their unmerges, each in its own transaction as the API
runs them. Prints one line per figure, as docs/benchmarks.md ("Identity")
reports.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import gateway.app  # noqa: F401  (every table registered: a merge classes them all)
from bench.database import bench_database
from gateway.changes.bus import ChangeBus
from gateway.db.session import create_engine, session_factory
from gateway.identity import merges
from gateway.identity.duplicates import duplicate_candidates
from gateway.identity.rules import MatchRules
from gateway.insights.refresh import refresh_customers

SEED = (
    "INSERT INTO customers (email, phone, first_name, last_name, created_at,"
    " updated_at)"
    " SELECT CASE WHEN g % 200 = 50 THEN 'c' || (g - 1) || '+shop@example.com'"
    "             ELSE 'c' || g || '@example.com' END,"
    "        '+1415' || lpad((CASE WHEN g % 100 = 0 THEN g - 1 ELSE g END)::text,"
    "                        7, '0'),"
    "        'First' || ((CASE WHEN g % 300 = 150 THEN g - 1 ELSE g END) * 7 % 200),"
    "        'Last' || ((CASE WHEN g % 300 = 150 THEN g - 1 ELSE g END) * 13 % 500),"
    "        now(), now()"
    " FROM generate_series(1, :n) g",
    "INSERT INTO addresses (customer_id, kind, postcode, country, is_default)"
    " SELECT id, 'shipping',"
    "        lpad(((CASE WHEN id % 300 = 150 THEN id - 1 ELSE id END) * 7919 % 10000)"
    "             ::text, 5, '0'), 'US', true"
    " FROM customers",
    "ANALYZE customers",
    "ANALYZE addresses",
)
HISTORY = (
    "INSERT INTO notes (customer_id, author, body, created_at)"
    " SELECT id, 'key:bench', 'note ' || n, now()"
    " FROM customers, generate_series(1, 3) n WHERE id = ANY(:ids)",
    "INSERT INTO tags (customer_id, name, created_at)"
    " SELECT id, t, now() FROM customers, unnest(ARRAY['vip', 'gift']) t"
    " WHERE id = ANY(:ids)",
    "INSERT INTO consents (customer_id, channel, state, source, changed_at)"
    " SELECT id, 'email', CASE WHEN id % 2 = 0 THEN 'denied' ELSE 'granted' END,"
    " 'crm', now() FROM customers WHERE id = ANY(:ids)",
    "INSERT INTO loyalty_entries (customer_id, points, reason, created_at)"
    " SELECT id, 10 * n, 'order', now()"
    " FROM customers, generate_series(1, 2) n WHERE id = ANY(:ids)",
    "INSERT INTO identities (customer_id, source, external_id, linked_by,"
    " created_at)"
    " SELECT id, 'segment', 'user-' || id, 'identify', now()"
    " FROM customers WHERE id = ANY(:ids)",
    "INSERT INTO tracked_events (message_id, customer_id, user_id, type, name,"
    " properties, context, occurred_at, received_at)"
    " SELECT 'm-' || id || '-' || n, id, 'user-' || id, 'track', 'Viewed', '{}',"
    " '{}', now(), now()"
    " FROM customers, generate_series(1, 5) n WHERE id = ANY(:ids)",
)


async def run(server: str, customers: int, count: int) -> None:
    async with bench_database(server) as url:
        engine = create_engine(url)
        try:
            await _measure(engine, customers, count)
        finally:
            await engine.dispose()


async def _measure(engine: AsyncEngine, customers: int, count: int) -> None:
    sessions = session_factory(engine)
    started = time.perf_counter()
    async with engine.begin() as connection:
        for statement in SEED:
            await connection.execute(text(statement), {"n": customers})
    took = time.perf_counter() - started
    print(f"seeded {customers:,} customers in {took:.1f} s")
    rules = MatchRules.default()
    started = time.perf_counter()
    async with sessions() as session:
        found = await duplicate_candidates(session, rules)
    took = time.perf_counter() - started
    print(f"duplicateCandidates: {len(found):,} pairs in {took:.1f} s")
    pairs = [(c.customer_id, c.duplicate_id) for c in found[: count * 3]]
    pairs = _disjoint(pairs)[:count]
    ids = [i for pair in pairs for i in pair]
    async with engine.begin() as connection:
        for statement in HISTORY:
            await connection.execute(text(statement), {"ids": ids})
        await connection.execute(text("ANALYZE"))
    changes = ChangeBus()
    merged, unmerged = [], []
    for survivor, other in pairs:
        started = time.perf_counter()
        await merges.merge_customers(
            sessions,
            changes,
            rules,
            survivor,
            other,
            actor="bench",
            recompute=refresh_customers,
        )
        merged.append(time.perf_counter() - started)
    for _, other in pairs:
        started = time.perf_counter()
        await merges.unmerge_customer(
            sessions, changes, other, actor="bench", recompute=refresh_customers
        )
        unmerged.append(time.perf_counter() - started)
    for label, times in (("merge", merged), ("unmerge", unmerged)):
        ms = sorted(t * 1000 for t in times)
        print(
            f"{label}: p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"
            f" over {len(ms)} (each side: 3 notes, 2 tags, a consent,"
            " 2 loyalty entries, a link, 5 events)"
        )


def _disjoint(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    seen: set[int] = set()
    chosen = []
    for a, b in pairs:
        if a not in seen and b not in seen:
            chosen.append((a, b))
            seen |= {a, b}
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--merges", type=int, default=20)
    parser.add_argument(
        "--url", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    options = parser.parse_args()
    asyncio.run(run(options.url, options.customers, options.merges))


if __name__ == "__main__":
    main()

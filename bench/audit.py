"""Audit log benchmark: the CPU a batch of audit entries costs to write.

Every answered request that shows personal data records an entry per
customer (``gateway.auth.audit``), and ``AuditLog`` writes a second's worth
at once. A warm worker answers thousands of cached requests a second, so
this write is part of a cached answer's cost.

``python -m bench.audit`` records ``--entries`` entries through
``AuditLog.record``, ``--per-request`` at a time (1: a 360 view's; 50: a page
of 50 customers', from the response cache too), and flushes them, ``--rounds`` times
on a fresh migrated database (SQLite by default; ``--database-url`` a
PostgreSQL server, where a throwaway database is made, ``bench.database``),
and prints the process's CPU per entry (every thread's: SQLite writes in
aiosqlite's), the median of the rounds. docs/benchmarks.md ("Audit log
writes") reports it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench.database import bench_database
from gateway.auth.audit import AuditLog, AuditTrail, fields_text
from gateway.auth.policy import Role
from gateway.auth.principal import Principal
from gateway.db.session import create_engine, session_factory

FIELDS = ("email", "firstName", "lastName", "phone", "orders", "tickets", "activity")
"""What a 360 view shows of its customer."""


async def measure(
    url: str, entries: int, rounds: int, per_request: int = 1
) -> list[float]:
    """µs of CPU per entry, for each round."""
    engine = create_engine(url)
    audit = AuditLog(session_factory(engine), interval=3600)
    principal = Principal(subject="key:bench", role=Role.ADMIN, rate_key="bench")
    shown = fields_text(FIELDS)  # as a cached answer replays them
    figures = []
    try:
        for _ in range(rounds):
            started = time.process_time()
            recorded = 0
            for n in range(0, entries, per_request):
                trail = AuditTrail()
                trail.replay({shown: [1 + (n + c) % 1000 for c in range(per_request)]})
                audit.record(trail, principal, "Customer360")
                recorded += per_request
            await audit.flush()
            figures.append((time.process_time() - started) / recorded * 1e6)
    finally:
        await audit.aclose()
        await engine.dispose()
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-request", type=int, default=1)
    options = parser.parse_args()
    async with bench_database(options.database_url) as url:
        figures = await measure(
            url, options.entries, options.rounds, options.per_request
        )
    database = url.split(":", 1)[0]
    print(
        f"{database}: {statistics.median(figures):.1f} µs of CPU per audit entry"
        f" ({options.per_request} a request; median of {options.rounds} rounds"
        f" of {options.entries}; range"
        f" {min(figures):.1f}–{max(figures):.1f})"
    )


if __name__ == "__main__":
    asyncio.run(main())

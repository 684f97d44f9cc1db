"""Insights benchmark: full refresh, segment preview counts (RFM; replenishment
and relative rules at the data's own now), a large segment, export.

Run after ``python -m bench.insights_data``: ``python -m bench.insights --url
postgresql+asyncpg://postgres@127.0.0.1:5432/cg_bench``. Prints one line per
figure, as docs/benchmarks.md ("Insights") reports them.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import tracemalloc

from sqlalchemy import func, select, text

from bench.insights_data import NOW
from gateway.db.models import utcnow
from gateway.insights.export import ExportRequest, FullAccess, export_segment
from gateway.insights.order_facts import Sessions
from gateway.insights.refresh import refresh_all
from gateway.insights.segments import create_segment, preview
from gateway.insights.tables import CustomerRfm
from gateway.runtime.services import open_services
from gateway.settings import Settings

WIN_BACK: dict[str, object] = {
    "rfmSegmentIn": ["At Risk", "Hibernating"],
    "consent": {"channel": "email", "state": "granted"},
}
PREVIEWS: dict[str, dict[str, object]] = {
    "win-back": WIN_BACK,
}
AT_THE_DATA_S_NOW: dict[str, dict[str, object]] = {
    "skincare due in 14 days": {
        "replenishmentDue": {"category": "Skincare", "withinDays": 14}
    },
    "one SKU due in 14 days": {"replenishmentDue": {"sku": "SKI-1", "withinDays": 14}},
    "birthday next month, bought outerwear in October": {
        "birthday": {"monthsAhead": 1},
        "purchased": {
            "category": "Outerwear",
            "between": {
                "from": "2024-10-01T00:00:00+00:00",
                "to": "2024-10-31T23:59:59+00:00",
            },
        },
    },
}


async def _export(sessions: Sessions) -> tuple[int, int]:
    rows = size = 0
    request = ExportRequest("Everyone", "csv")
    async for chunk in export_segment(sessions, request, FullAccess()):
        rows += chunk.count(b"\n")
        size += len(chunk)
    return rows - 1, size


async def _timed_refresh(
    sessions: Sessions, settings: Settings
) -> tuple[float, dict[str, float]]:
    steps: dict[str, float] = {}
    mark = started = time.perf_counter()

    def step(name: str) -> None:
        nonlocal mark
        steps[name] = round(time.perf_counter() - mark, 1)
        mark = time.perf_counter()

    await refresh_all(sessions, settings, step_done=step)
    return time.perf_counter() - started, steps


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(url: str) -> None:
    settings = Settings(database_url=url, cache_enabled=False)
    async with open_services(settings) as services:
        sessions = services.sessions
        async with sessions() as session, session.begin():
            # Empty as on a first deployment: TRUNCATE leaves no dead rows for
            # the first refresh to step over (or for autovacuum to clean up
            # while it runs), as a DELETE of a million rows would.
            await session.execute(
                text(
                    "TRUNCATE segments, segment_members, segment_membership_events,"
                    " customer_traits, customer_rfm, insights_pending,"
                    " learned_intervals"
                )
            )
        for label in ("first, empty tables", "again, replacing every row"):
            took, steps = await _timed_refresh(sessions, settings)
            print(f"full refresh ({label}, no saved segment): {took:.1f} s {steps}")
        async with sessions() as session:
            rated = await session.scalar(select(func.count()).select_from(CustomerRfm))
        print(f"customers with an RFM score: {rated:,}")

        previews = [(label, spec, utcnow()) for label, spec in PREVIEWS.items()]
        previews += [(label, spec, NOW) for label, spec in AT_THE_DATA_S_NOW.items()]
        for label, spec, now in previews:
            for attempt in range(3):
                started = time.perf_counter()
                async with sessions() as session:
                    count, _ = await preview(session, spec, now, 20, None)
                took = time.perf_counter() - started
                print(
                    f"segment preview ({label}) #{attempt + 1}: {count:,}"
                    f" in {took:.3f} s"
                )

        started = time.perf_counter()
        async with sessions() as session, session.begin():
            await create_segment(session, "Everyone", {}, utcnow())
        print(f"createSegment of everyone: {time.perf_counter() - started:.1f} s")

        rss = _max_rss_mb()
        started = time.perf_counter()
        rows, size = await _export(sessions)
        took = time.perf_counter() - started
        print(
            f"export: {rows:,} rows, {size / 1e6:.1f} MB in {took:.1f} s"
            f" ({rows / took:,.0f} rows/s), max RSS {rss:.0f} -> {_max_rss_mb():.0f} MB"
        )
        tracemalloc.start()
        started = time.perf_counter()
        await _export(sessions)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        took = time.perf_counter() - started
        print(
            f"export again under tracemalloc: {took:.1f} s,"
            f" peak Python memory {peak / 1e6:.1f} MB"
        )

        took, steps = await _timed_refresh(sessions, settings)
        print(f"full refresh with the saved segment of everyone: {took:.1f} s {steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/cg_bench"
    )
    asyncio.run(run(parser.parse_args().url))


if __name__ == "__main__":
    main()

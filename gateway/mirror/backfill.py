"""History into the mirror from PostHog's query API, for ``customer-graph
mirror backfill``: what happened before the destination was configured, or
while the gateway could not take deliveries.

It reads everyone's events of a time range oldest first, a page per HogQL
query (``PostHogConnector.events_between``), and commits each page together
with its position in ``sync_state`` (source ``posthog_events``):

- ``cursor``: the timestamp the next page starts at (the last page's newest,
  inclusive: events sharing it are read again and stored once, by uuid, never
  missed), while a run is under way — an interrupted run resumes there;
- ``synced_until``: where the last complete run ended — the next run starts
  there, an hour early (``OVERLAP``) for events PostHog ingested late;
- ``updated_at``: when its last page was read.

Its queries spend PostHog's one budget (``gateway.guard``, shared by every
replica and this command) as background work: only while more than
``CG_UPSTREAM_BACKGROUND_RESERVE`` of the burst is left, so the views' live
fallback and interactive reads come first. A query the budget cannot cover
within the background deadline is not sent; the backfill waits until the
budget says it could be, and asks again — a long backfill runs at the pace
PostHog's limit refills, whatever else spends it. A full page whose events
all share the timestamp it started at would not move the cursor: the page is
read again, twice as large, up to PostHog's 50,000 rows.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.errors import UpstreamBadResponse, UpstreamBudgetSpent
from connectors.models import ActivityEvent
from connectors.posthog.client import PostHogConnector
from connectors.posthog.hogql import MAX_ROWS
from gateway import metrics
from gateway.db.models import SyncState, utcnow
from gateway.db.upsert import dialect_insert
from gateway.mirror.store import event_row, insert_rows, storable

STATE = "posthog_events"
"""``sync_state.source`` of the backfill."""
OVERLAP = timedelta(hours=1)

Sessions = async_sessionmaker[AsyncSession]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class BackfillReport:
    started_from: datetime
    until: datetime
    queries: int = 0
    read: int = 0
    stored: int = 0
    skipped: int = 0
    """Events a column could not hold (an id past 200 characters, a NUL)."""
    refused: int = 0
    """Queries the budget could not cover in time, waited for and asked again."""
    waited: float = 0.0
    """Seconds waited after those refusals."""

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("from", self.started_from.isoformat(timespec="seconds")),
            ("until", self.until.isoformat(timespec="seconds")),
            ("queries", str(self.queries)),
            ("events read", str(self.read)),
            ("new events stored", str(self.stored)),
            ("skipped", str(self.skipped)),
            ("queries refused by the budget", str(self.refused)),
            ("seconds waited after refusals", f"{self.waited:.0f}"),
        ]


async def _page(
    posthog: PostHogConnector,
    since: datetime,
    until: datetime,
    limit: int,
    sleep: Sleep,
    report: BackfillReport,
) -> list[ActivityEvent]:
    """One page, asked again each time the budget refuses it, after the wait
    the guard gave (a query the budget could never cover is raised)."""
    while True:
        try:
            return await posthog.events_between(since, until, limit=limit)
        except UpstreamBudgetSpent as spent:
            wait = spent.retry_after
            if wait is None or not math.isfinite(wait):
                raise
            report.refused += 1
            report.waited += wait
            await sleep(wait)


async def _state(sessions: Sessions) -> SyncState | None:
    async with sessions() as session:
        return await session.scalar(select(SyncState).where(SyncState.source == STATE))


def _start(state: SyncState | None, since: datetime, *, full: bool) -> datetime:
    if full or state is None:
        return since
    if state.cursor:
        return datetime.fromisoformat(state.cursor)
    if state.synced_until is not None:
        return state.synced_until - OVERLAP
    return since


async def _save(
    sessions: Sessions,
    events: list[ActivityEvent],
    *,
    cursor: datetime | None,
    synced_until: datetime | None,
    queried_at: datetime,
    report: BackfillReport,
) -> None:
    """A page's events and the position after it, in one transaction."""
    rows, skipped = storable(event_row(e, "backfill", queried_at) for e in events)
    values = {
        "cursor": cursor.isoformat() if cursor else None,
        "updated_at": queried_at,
        **({"synced_until": synced_until} if synced_until else {}),
    }
    async with sessions() as session, session.begin():
        stored = await insert_rows(session, rows, "backfill") if rows else set()
        statement = dialect_insert(session, SyncState).values(source=STATE, **values)
        await session.execute(
            statement.on_conflict_do_update(index_elements=["source"], set_=values)
        )
    metrics.MIRROR_EVENTS.labels(via="backfill", result="skipped").inc(skipped)
    report.stored += len(stored)
    report.skipped += skipped


async def backfill_events(
    sessions: Sessions,
    posthog: PostHogConnector,
    *,
    since: datetime,
    full: bool,
    page_size: int,
    clock: Clock = utcnow,
    sleep: Sleep = asyncio.sleep,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Read events from where the last run stopped (``since`` on the first
    run, or with ``full``) until now into the mirror."""
    state = await _state(sessions)
    position = _start(state, since, full=full)
    report = BackfillReport(started_from=position, until=clock())
    limit = page_size
    while True:
        events = await _page(posthog, position, report.until, limit, sleep, report)
        queried_at = clock()
        report.queries += 1
        report.read += len(events)
        if progress is not None:
            progress(len(events))
        if len(events) < limit:
            await _save(
                sessions,
                events,
                cursor=None,
                synced_until=report.until,
                queried_at=queried_at,
                report=report,
            )
            return report
        newest = max(e.occurred_at for e in events)
        if newest <= position:
            if limit >= MAX_ROWS:
                raise UpstreamBadResponse(
                    posthog.name, f"over {MAX_ROWS} events share one timestamp"
                )
            limit = min(MAX_ROWS, limit * 2)
        else:
            limit = page_size
        position = max(position, newest)
        await _save(
            sessions,
            events,
            cursor=position,
            synced_until=None,
            queried_at=queried_at,
            report=report,
        )

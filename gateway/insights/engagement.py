"""Help-desk and analytics facts (``engagement_facts``), copied in bounded batches.

Traits read tickets and last-seen from this table instead of calling Zendesk
and PostHog per customer during a refresh: ``customer-graph insights
sync-engagement`` walks the linked customers ``BATCH`` at a time, one batched
upstream call per source per batch, and upserts a row per customer. Last-seen
times come from the local event mirror (one SQL statement per batch); only
persons it has no event of cost a HogQL query, through the budgeted live
fallback (``gateway.mirror.fallback``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from gateway.db import models
from gateway.insights.order_facts import Sessions
from gateway.insights.sql import excluded_all, upsert
from gateway.insights.tables import EngagementFact
from gateway.mirror import fallback, reads
from gateway.runtime.upstreams import Upstreams

BATCH = 100
OPEN_STATUSES = frozenset({"new", "open", "pending", "hold"})


async def count_links(sessions: Sessions, sources: tuple[str, ...]) -> int:
    """Customers linked to any of ``sources`` (the progress bar's total)."""
    i = models.Identity
    async with sessions() as session:
        found = await session.scalar(
            select(func.count(func.distinct(i.customer_id))).where(
                i.source.in_(sources)
            )
        )
    return int(found or 0)


async def _links(sessions: Sessions, after: int) -> dict[int, dict[str, str]]:
    """The next ``BATCH`` customers (by id) with any help-desk or analytics link."""
    i = models.Identity
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(i.customer_id)
                .where(i.source.in_(("zendesk", "posthog")), i.customer_id > after)
                .group_by(i.customer_id)
                .order_by(i.customer_id)
                .limit(BATCH)
            )
        )
        rows = await session.execute(
            select(i.customer_id, i.source, i.external_id).where(
                i.customer_id.in_(ids), i.source.in_(("zendesk", "posthog"))
            )
        )
    found: dict[int, dict[str, str]] = {cid: {} for cid in ids}
    for customer_id, source, external_id in rows:
        found[customer_id][source] = external_id
    return found


async def sync_engagement(
    sessions: Sessions,
    upstreams: Upstreams,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    *,
    live_fallback: bool,
) -> int:
    """Refresh ``engagement_facts`` of every linked customer; returns how
    many. ``live_fallback``: whether persons the event mirror lacks are read
    from PostHog's query API (``CG_POSTHOG_LIVE_FALLBACK``), within its
    budget at background priority."""
    live = fallback.live_fallback(upstreams.posthog, live_fallback, sessions)
    done, after = 0, 0
    while batch := await _links(sessions, after):
        rows = await _facts(sessions, upstreams, live, batch, now)
        async with sessions() as session, session.begin():
            dialect = (await session.connection()).dialect.name
            statement = upsert(dialect, EngagementFact.__table__)
            statement = statement.on_conflict_do_update(
                index_elements=["customer_id"],
                set_=excluded_all(statement, {"customer_id"}),
            )
            await session.execute(statement, rows)
        after = max(batch)
        done += len(batch)
        if progress:
            progress(len(batch))
    return done


async def _facts(
    sessions: Sessions,
    upstreams: Upstreams,
    live: fallback.LiveFallback | None,
    batch: dict[int, dict[str, str]],
    now: datetime,
) -> list[dict[str, Any]]:
    zendesk_ids = [links["zendesk"] for links in batch.values() if "zendesk" in links]
    posthog_ids = [links["posthog"] for links in batch.values() if "posthog" in links]
    tickets = (
        await upstreams.zendesk.tickets_by_requesters(zendesk_ids)
        if upstreams.zendesk and zendesk_ids
        else {}
    )
    summaries = (
        await fallback.summaries(
            sessions, live, posthog_ids, session_days=reads.SESSION_DAYS, now=now
        )
        if upstreams.posthog and posthog_ids
        else {}
    )
    rows = []
    for customer_id, links in batch.items():
        mine = tickets.get(links.get("zendesk", ""), [])
        summary = summaries.get(links.get("posthog", ""))
        scores = [t.satisfaction.score for t in mine if t.satisfaction]
        rows.append(
            {
                "customer_id": customer_id,
                "open_tickets": sum(1 for t in mine if t.status in OPEN_STATUSES),
                "ticket_count": len(mine),
                "good_ratings": scores.count("good"),
                "bad_ratings": scores.count("bad"),
                "last_seen_at": summary.last_seen if summary else None,
                "updated_at": now,
            }
        )
    return rows

"""The live HogQL path, kept only for persons the mirror has no event of
(a customer linked before the backfill reached them, or last seen before the
mirror's history starts).

Its queries spend PostHog's one budget (``gateway.guard``, shared by
replicas), at fallback priority (``connectors.scope.Priority.FALLBACK``):
never waited for, and sent only while more than ``CG_UPSTREAM_FALLBACK_RESERVE``
of the burst is left for interactive reads — while the backfill, background
work, stops at the larger background reserve and waits. A query the budget
cannot cover is not sent, and the read fails as PostHog's own throttle would
(``UPSTREAM_RATE_LIMITED``: the field is stale or null). Read by background
work (``insights sync-engagement``), a fallback query stays background.
Each query, sent or refused by the guard, is counted in
``customer_graph_posthog_fallback_queries_total{read,outcome}``.
``CG_POSTHOG_LIVE_FALLBACK=false`` turns the fallback off: unmirrored persons
answer as having no events.

One query per call: the gateway's batches hold at most ``CG_MAX_PAGE_SIZE``
(100) persons, which the connector reads in one query.

A person the live path finds quiet — never seen, or last seen before
``reads.ACTIVITY_DAYS`` — is remembered in ``posthog_person_checks``, so the
mirror answers for them (for ``reads.CHECK_TTL``) rather than another query:
without it, every view of a long-inactive customer would spend the budget.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.errors import UpstreamNotSent
from connectors.models import PersonActivity, PersonSummary
from connectors.posthog.client import PostHogConnector
from connectors.scope import Priority, at_most
from gateway import metrics
from gateway.db.models import PostHogPersonCheck, utcnow
from gateway.db.upsert import dialect_insert
from gateway.errors import describe
from gateway.mirror import reads

log = logging.getLogger("gateway.mirror")

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")


async def _counted(read: str, query: Callable[[], Awaitable[T]]) -> T:
    """``query`` at fallback priority (at most), counted as sent or refused."""
    outcome = "sent"
    try:
        with at_most(Priority.FALLBACK):
            return await query()
    except UpstreamNotSent:
        outcome = "refused"
        raise
    finally:
        metrics.labelled(metrics.POSTHOG_FALLBACK, read=read, outcome=outcome).inc()


class LiveFallback:
    def __init__(self, posthog: PostHogConnector, sessions: Sessions) -> None:
        self.posthog = posthog
        self.sessions = sessions

    async def activity(
        self, distinct_ids: Sequence[str], *, limit: int, days: int, session_days: int
    ) -> dict[str, PersonActivity]:
        found = await _counted(
            "activity",
            lambda: self.posthog.activity_by_persons(
                distinct_ids, limit=limit, days=days, session_days=session_days
            ),
        )
        await self._remember_quiet(
            {d: a.summary for d, a in found.items() if not a.events}
        )
        return found

    async def summaries(
        self, distinct_ids: Sequence[str], *, session_days: int
    ) -> dict[str, PersonSummary]:
        found = await _counted(
            "summary",
            lambda: self.posthog.summaries_by_persons(
                distinct_ids, session_days=session_days
            ),
        )
        await self._remember_quiet(found)
        return found

    async def _remember_quiet(self, summaries: Mapping[str, PersonSummary]) -> None:
        """A check for each quiet person of a live answer. Failing to write
        one costs a later query, not this read: it is logged, not raised."""
        now = utcnow()
        since = now - timedelta(days=reads.ACTIVITY_DAYS)
        rows = [
            {"distinct_id": d, "last_seen_at": s.last_seen, "checked_at": now}
            for d, s in summaries.items()
            if not s.sessions and (s.last_seen is None or s.last_seen < since)
        ]
        if not rows:
            return
        try:
            async with self.sessions() as session, session.begin():
                statement = dialect_insert(session, PostHogPersonCheck).values(rows)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["distinct_id"],
                        set_={
                            "last_seen_at": statement.excluded.last_seen_at,
                            "checked_at": statement.excluded.checked_at,
                        },
                    )
                )
        except SQLAlchemyError as exc:
            log.warning("quiet PostHog persons not remembered: %s", describe(exc))


def live_fallback(
    posthog: PostHogConnector | None, enabled: bool, sessions: Sessions
) -> LiveFallback | None:
    """The fallback to use, ``None`` when PostHog is not configured or the
    fallback is off (``CG_POSTHOG_LIVE_FALLBACK``)."""
    if posthog is None or not enabled:
        return None
    return LiveFallback(posthog, sessions)


async def summaries(
    sessions: Sessions,
    fallback: LiveFallback | None,
    distinct_ids: Sequence[str],
    *,
    session_days: int,
    now: datetime,
) -> dict[str, PersonSummary]:
    """Summaries from the mirror, the rest from the fallback (when it is on):
    what a batch job reads (``gateway.insights.engagement``)."""
    async with sessions() as session:
        found = await reads.summaries(
            session, distinct_ids, session_days=session_days, now=now
        )
    missing = [d for d in dict.fromkeys(distinct_ids) if d not in found]
    if missing and fallback is not None:
        found.update(await fallback.summaries(missing, session_days=session_days))
    return found

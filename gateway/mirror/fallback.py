"""The live HogQL path, kept only for persons the mirror has no event of
(a customer linked before the backfill reached them, or last seen before the
mirror's history starts).

Every query it sends takes a token from an hourly budget first,
``CG_POSTHOG_FALLBACK_QUERIES_PER_HOUR`` (a token bucket shared by replicas
through Redis, in process without it; ``gateway.auth.ratelimit``), so the
views of unmirrored customers cannot spend the PostHog key's whole hourly
allowance, which the backfill and other tools share. Without a token nothing
is sent and the read fails as PostHog's own throttle would
(``UpstreamRateLimited``: the field is null with ``UPSTREAM_RATE_LIMITED``).
Each query, sent or refused, is counted in
``customer_graph_posthog_fallback_queries_total{read,outcome}``. A budget of 0
turns the fallback off: unmirrored persons answer as having no events.

One token per call: the gateway's batches hold at most ``CG_MAX_PAGE_SIZE``
(100) persons, which the connector reads in one query.

A person the live path finds quiet — never seen, or last seen before
``reads.ACTIVITY_DAYS`` — is remembered in ``posthog_person_checks``, so the
mirror answers for them (for ``reads.CHECK_TTL``) rather than another query:
without it, every view of a long-inactive customer would spend the budget.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.errors import UpstreamRateLimited
from connectors.models import PersonActivity, PersonSummary
from connectors.posthog.client import PostHogConnector
from gateway import metrics
from gateway.db.models import PostHogPersonCheck, utcnow
from gateway.db.upsert import dialect_insert
from gateway.errors import describe
from gateway.mirror import reads

log = logging.getLogger("gateway.mirror")

BUDGET_KEY = "posthog:fallback"
Sessions = async_sessionmaker[AsyncSession]


class Budget(Protocol):
    """A token bucket (``gateway.auth.ratelimit.RateLimiter``)."""

    async def take(self, key: str) -> float:
        """0 when a token was taken; else the seconds until one is free."""
        ...


class LiveFallback:
    def __init__(
        self, posthog: PostHogConnector, budget: Budget | None, sessions: Sessions
    ) -> None:
        self.posthog = posthog
        self.budget = budget
        """``None``: not budgeted here (a command running alone)."""
        self.sessions = sessions

    async def _spend(self, read: str) -> None:
        wait = await self.budget.take(BUDGET_KEY) if self.budget is not None else 0.0
        if wait > 0:
            metrics.POSTHOG_FALLBACK.labels(read=read, outcome="refused").inc()
            raise UpstreamRateLimited(
                self.posthog.name, "live fallback budget spent", retry_after=wait
            )
        metrics.POSTHOG_FALLBACK.labels(read=read, outcome="sent").inc()

    async def activity(
        self, distinct_ids: Sequence[str], *, limit: int, days: int, session_days: int
    ) -> dict[str, PersonActivity]:
        await self._spend("activity")
        found = await self.posthog.activity_by_persons(
            distinct_ids, limit=limit, days=days, session_days=session_days
        )
        await self._remember_quiet(
            {d: a.summary for d, a in found.items() if not a.events}
        )
        return found

    async def summaries(
        self, distinct_ids: Sequence[str], *, session_days: int
    ) -> dict[str, PersonSummary]:
        await self._spend("summary")
        found = await self.posthog.summaries_by_persons(
            distinct_ids, session_days=session_days
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
    posthog: PostHogConnector | None,
    budget: Budget | None,
    per_hour: int,
    sessions: Sessions,
) -> LiveFallback | None:
    """The fallback to use, ``None`` when PostHog is not configured or the
    budget is 0 (fallback off)."""
    if posthog is None or per_hour <= 0:
        return None
    return LiveFallback(posthog, budget, sessions)


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
